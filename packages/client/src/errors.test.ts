// JSON error responses -> typed LumengateError, over real HTTP.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { LumengateClient } from './client.js';
import { LumengateError, type LumengateErrorCode } from './errors.js';
import { sendJson, startServer, type TestServer } from './test-support/http-server.js';

interface Case {
  status: number;
  body: Record<string, unknown> | string;
  headers?: Record<string, string>;
}

describe('error responses', () => {
  let server: TestServer;
  let next: Case;
  let client: LumengateClient;

  before(async () => {
    server = await startServer((_req, res) => {
      if (typeof next.body === 'string') {
        res.writeHead(next.status, { 'content-type': 'text/html', ...next.headers });
        return void res.end(next.body);
      }
      sendJson(res, next.status, next.body, next.headers);
    });
    client = new LumengateClient({ apiKey: 'nb_EXAMPLEKEY', baseUrl: server.url });
  });
  after(() => server.close());

  async function failure(c: Case): Promise<LumengateError> {
    next = c;
    try {
      await client.generate({ model: 'gpt-5', prompt: 'x' });
    } catch (error) {
      assert.ok(error instanceof LumengateError, `expected LumengateError, got ${String(error)}`);
      return error;
    }
    assert.fail('the request should have failed');
  }

  const table: Array<[number, LumengateErrorCode]> = [
    [400, 'bad_request'],
    [401, 'not_authenticated'],
    [402, 'insufficient_tokens'],
    [403, 'insufficient_plan'],
    [404, 'not_found'],
    [413, 'payload_too_large'],
    [422, 'validation_error'],
    [500, 'provider_error'],
    [500, 'internal_error'],
    [503, 'model_unavailable'],
  ];
  for (const [status, code] of table) {
    it(`${status} ${code} keeps status, code, message and details`, async () => {
      const error = await failure({ status, body: { error: code, message: `says ${code}`, details: { seen: code } } });
      assert.equal(error.status, status);
      assert.equal(error.code, code);
      assert.equal(error.serverCode, code);
      assert.equal(error.message, `says ${code}`);
      assert.deepEqual(error.details, { seen: code });
      assert.equal(error.retryAfter, null);
    });
  }

  it('422 exposes details.fields', async () => {
    const fields = [{ path: 'temperature', message: 'must be between 0 and 2' }];
    const error = await failure({ status: 422, body: { error: 'validation_error', message: 'Invalid body', details: { fields } } });
    assert.deepEqual(error.fields, fields);
  });

  it('500 provider_error exposes details.generation_id', async () => {
    const error = await failure({
      status: 500,
      body: { error: 'provider_error', message: 'Upstream failed', details: { generation_id: 18503 } },
    });
    assert.equal(error.generationId, 18503);
  });

  it('429 gives retryAfter and the plan limits from the body', async () => {
    const error = await failure({
      status: 429,
      headers: { 'retry-after': '847' },
      body: {
        error: 'rate_limit_exceeded',
        message: 'Hourly limit reached: 100 requests/hour on VIP plan',
        details: {},
        retry_after: 847,
        plan: 'vip',
        limit_hour: 100,
        limit_day: 1000,
      },
    });
    assert.equal(error.code, 'rate_limit_exceeded');
    assert.equal(error.status, 429);
    assert.equal(error.retryAfter, 847);
    assert.deepEqual(error.rateLimit, { plan: 'vip', limitHour: 100, limitDay: 1000 });
  });

  it('429 without retry_after in the body falls back to the Retry-After header', async () => {
    const error = await failure({
      status: 429,
      headers: { 'retry-after': '30' },
      body: { error: 'rate_limit_exceeded', message: 'slow down', details: {} },
    });
    assert.equal(error.retryAfter, 30);
  });

  it('an error code this client does not know becomes unknown_error, keeping the raw code', async () => {
    const error = await failure({ status: 409, body: { error: 'conflict', message: 'new code', details: {} } });
    assert.equal(error.code, 'unknown_error');
    assert.equal(error.serverCode, 'conflict');
    assert.equal(error.status, 409);
  });

  it('a non-JSON error page becomes invalid_response with the status', async () => {
    const error = await failure({ status: 502, body: '<html>Bad Gateway</html>' });
    assert.equal(error.code, 'invalid_response');
    assert.equal(error.status, 502);
    assert.match(error.message, /Bad Gateway/);
  });
});
