// Limits and browser-facing headers: body size (413), per-model message count and prompt size
// (422, nothing held), request-head size (431 as JSON), bad URLs, CORS (off unless configured),
// security headers on the dashboard and docs pages.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { startHarness, type Harness } from '../support/harness.js';
import { securitySettings } from '../../src/http/security.js';
import { DEFAULT_MAX_MESSAGES, DEFAULT_MAX_PROMPT_CHARS } from '../../src/generation/limits.js';
import { call, isEnvelope } from './http.js';

/**
 * Sends raw bytes and resolves with everything the server answered before closing. `end: false`
 * writes them without a FIN, as a client waiting for its answer would.
 */
export function rawRequest(url: string, bytes: Buffer | string, { timeoutMs = 5000, end = true } = {}): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(Number(port), hostname, () => (end ? socket.end(bytes) : socket.write(bytes)));
    socket.on('data', (c) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.setTimeout(timeoutMs, () => {
      socket.destroy();
      reject(new Error('raw request timed out'));
    });
  });
}

const parseRaw = (raw: string) => {
  const [head, ...rest] = raw.split('\r\n\r\n');
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head ?? '')?.[1]), head: head ?? '', body: rest.join('\r\n\r\n') };
};

describe('limits', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({
      env: { LUMENGATE_BODY_LIMIT: String(64 * 1024), LUMENGATE_MAX_HEADER_SIZE: String(8 * 1024) },
      catalog: { models: [{ slug: 'gpt-5-nano', max_messages: 3, max_prompt_chars: 100 }] },
    });
  });
  after(() => h.close());

  it('a body over LUMENGATE_BODY_LIMIT is 413 payload_too_large, with or without Content-Length, nothing charged', async () => {
    const a = await h.account({ tokens: 10 });
    const big = JSON.stringify({ model: 'gpt-5', prompt: 'x'.repeat(70 * 1024) });
    const r = await h.post('/api/v2/generate', big, a.key);
    assert.equal(r.status, 413);
    assert.ok(isEnvelope(r.json));
    assert.equal(r.json.error, 'payload_too_large');
    // Chunked, so the server only finds out while reading.
    const chunked = await fetch(`${h.url}/api/v2/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.key}` },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < 80; i++) c.enqueue(new TextEncoder().encode(i === 0 ? '{"model":"gpt-5","prompt":"' : 'x'.repeat(1024)));
          c.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(chunked.status, 413);
    assert.equal((await chunked.json()).error, 'payload_too_large');
    assert.equal(await h.balance(a.id), 10);
    // Just under the limit is fine (and refused by the model's own prompt limit instead).
    const fits = await h.post('/api/v2/generate', JSON.stringify({ model: 'gpt-5', prompt: 'x'.repeat(60 * 1024) }), a.key);
    assert.notEqual(fits.status, 413);
  });

  it('max_messages and max_prompt_chars from the catalog are enforced: 422 before anything is held', async () => {
    const a = await h.account({ tokens: 10 });
    const before = h.fake.requests.length;
    const tooMany = await h.post('/api/v2/generate', { model: 'gpt-5-nano', messages: [1, 2, 3, 4].map((i) => ({ role: 'user', content: `m${i}` })) }, a.key);
    assert.equal(tooMany.status, 422);
    assert.equal(tooMany.json.error, 'validation_error');
    assert.deepEqual(
      tooMany.json.details.fields.map((f: any) => f.path),
      ['messages'],
    );
    const tooLong = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'y'.repeat(60), params: { system_prompt: 'z'.repeat(41) } }, a.key);
    assert.equal(tooLong.status, 422);
    assert.deepEqual(
      tooLong.json.details.fields.map((f: any) => f.path),
      ['prompt'],
    );
    // /v1 chat has no prompt field: the error names the message that holds most of the text.
    const chat = await h.post(
      '/v1/chat/completions',
      {
        model: 'gpt-5-nano',
        messages: [
          { role: 'user', content: 'short' },
          { role: 'user', content: 'y'.repeat(101) },
        ],
      },
      a.key,
    );
    assert.equal(chat.status, 422, chat.text);
    assert.equal(chat.json.error.param, 'messages.1');
    // Too many messages is messages on /v1 chat, as on /api/v2 (/v1/responses says input items: its test).
    const chatTooMany = await h.post('/v1/chat/completions', { model: 'gpt-5-nano', messages: [1, 2, 3, 4].map((i) => ({ role: 'user', content: `m${i}` })) }, a.key);
    assert.deepEqual([chatTooMany.status, chatTooMany.json.error.param, chatTooMany.json.error.message], [422, 'messages', 'messages: at most 3 messages for model gpt-5-nano, got 4']);
    const stream = await h.post('/api/v2/generate/stream', { model: 'gpt-5-nano', prompt: 'y'.repeat(101) }, a.key);
    assert.equal(stream.status, 422, 'streaming too: JSON before any SSE byte');
    assert.equal(h.fake.requests.length, before, 'the upstream was never called');
    assert.equal(await h.balance(a.id), 10);
    assert.equal(await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', a.id).executeTakeFirst(), undefined);

    h.fake.respondWith({ chunks: ['ok'] });
    const fits = await h.post(
      '/api/v2/generate',
      {
        model: 'gpt-5-nano',
        system: 's'.repeat(50),
        messages: [
          { role: 'user', content: 'u'.repeat(25) },
          { role: 'assistant', content: 'a'.repeat(25) },
        ],
      },
      a.key,
    );
    assert.equal(fits.status, 200, 'exactly at both limits');
  });

  it('defaults apply to models without limits', async () => {
    assert.ok(DEFAULT_MAX_MESSAGES >= 100 && DEFAULT_MAX_PROMPT_CHARS >= 100_000);
    const a = await h.account({ tokens: 10 });
    const messages = Array.from({ length: DEFAULT_MAX_MESSAGES + 1 }, () => ({ role: 'user', content: 'x' }));
    const r = await h.post('/api/v2/generate', { model: 'gpt-5', messages }, a.key);
    assert.equal(r.status, 422);
    assert.match(r.json.details.fields[0].message, new RegExp(`at most ${DEFAULT_MAX_MESSAGES} messages`));
  });

  it('request headers over LUMENGATE_MAX_HEADER_SIZE: 431 with the JSON envelope', async () => {
    const r = await call(h.url, 'GET', '/api/v2/models', { headers: { 'x-padding': 'p'.repeat(9 * 1024) } }).catch((e) => e);
    if (r instanceof Error) assert.fail(`no HTTP answer: ${r.message}`);
    assert.equal(r.status, 431);
    assert.equal(r.json.error, 'headers_too_large');
    assert.ok(isEnvelope(r.json));
    assert.equal((await call(h.url, 'GET', '/api/v2/models', { headers: { 'x-padding': 'p'.repeat(4 * 1024) } })).status, 200);
  });

  it('malformed HTTP and undecodable URLs: 400 with the JSON envelope', async () => {
    for (const raw of ['GARBAGE\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 'GET /\0 HTTP/1.1\r\n\r\n']) {
      const r = parseRaw(await rawRequest(h.url, raw));
      assert.equal(r.status, 400, JSON.stringify(raw));
      assert.ok(isEnvelope(JSON.parse(r.body)));
    }
    const bad = await call(h.url, 'GET', '/api/v2/generate/%E0%A4%A');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error, 'bad_request');
  });

  it('Upgrade with a chunked body: 400 at once and the connection closed; Upgrade otherwise ignored', async () => {
    // Written without a FIN (as a client waiting for its answer would): Node's parser stops at the
    // malformed chunk of a request in upgrade mode without an error, so without the refusal the
    // socket waited for the request timeout.
    const sendOpen = (bytes: string) => rawRequest(h.url, bytes, { end: false });
    const a = await h.account({ tokens: 10 });
    const head = (method: string, path: string, extra: string) =>
      `${method} ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${a.key}\r\ncontent-type: application/json\r\nconnection: upgrade\r\nupgrade: websocket\r\n${extra}\r\n`;
    for (const path of ['/api/v2/generate', '/v1/chat/completions']) {
      const r = parseRaw(await sendOpen(`${head('POST', path, 'transfer-encoding: chunked\r\n')}zz\r\n{}\r\n0\r\n\r\n`));
      assert.equal(r.status, 400, path);
      assert.match(r.head, /^connection: close$/im, path);
      assert.match(r.body, /cannot have a chunked body/, path);
    }
    assert.equal(await h.balance(a.id), 10);
    // The same request with a Content-Length body is served (the Upgrade ignored), as is one with no body.
    h.fake.respondWith({ chunks: ['ok'] });
    const body = JSON.stringify({ model: 'gpt-5-nano', prompt: 'hi' });
    const served = parseRaw(await sendOpen(`${head('POST', '/api/v2/generate', `content-length: ${body.length}\r\nconnection: close\r\n`)}${body}`));
    assert.equal(served.status, 200, served.head);
    assert.equal(parseRaw(await sendOpen(head('GET', '/api/v2/balance', 'connection: close\r\n'))).status, 200);
  });

  it('CORS is off by default: no Access-Control headers, preflight is 404', async () => {
    const r = await call(h.url, 'GET', '/api/v2/models', { headers: { origin: 'https://evil.example' } });
    assert.equal(r.headers.get('access-control-allow-origin'), null);
    const pre = await call(h.url, 'OPTIONS', '/api/v2/generate', { headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
    assert.equal(pre.status, 404);
    assert.equal(pre.headers.get('access-control-allow-origin'), null);
  });

  it('security headers on /dashboard and /docs; nosniff everywhere; no page policy on the API', async () => {
    for (const path of ['/dashboard', '/dashboard/', '/dashboard/app.js', '/docs', '/docs/static/index.html', '/docs?x=1']) {
      const r = await call(h.url, 'GET', path);
      const csp = r.headers.get('content-security-policy') ?? '';
      assert.match(csp, /default-src 'self'/, path);
      assert.match(csp, /frame-ancestors 'none'/, path);
      assert.match(csp, /object-src 'none'/, path);
      assert.equal(r.headers.get('x-frame-options'), 'SAMEORIGIN', path);
      assert.equal(r.headers.get('x-content-type-options'), 'nosniff', path);
      assert.equal(r.headers.get('referrer-policy'), 'no-referrer', path);
      assert.match(r.headers.get('strict-transport-security') ?? '', /max-age=/, path);
      assert.equal(r.headers.get('cross-origin-opener-policy'), 'same-origin', path);
    }
    const api = await call(h.url, 'GET', '/api/v2/models');
    assert.equal(api.headers.get('content-security-policy'), null);
    assert.equal(api.headers.get('x-content-type-options'), 'nosniff');
    assert.equal((await call(h.url, 'GET', '/dashboardx')).headers.get('content-security-policy'), null, 'prefix match is by path segment');
  });

  it('percent-encoded page paths get the same headers (the router decodes them: /%64ashboard is /dashboard)', async () => {
    for (const path of ['/%64ashboard', '/%64ocs', '/%64ashboard/app.js', '/%44ocs/', '//docs']) {
      const r = await call(h.url, 'GET', path);
      assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, path);
      assert.equal(r.headers.get('x-frame-options'), 'SAMEORIGIN', path);
    }
    assert.equal((await call(h.url, 'GET', '/%64ashboard')).status, (await call(h.url, 'GET', '/dashboard')).status, 'served like /dashboard');
  });
});

describe('CORS when configured', () => {
  let h: Harness;
  const ADMIN = 'cors-test-admin-token-0123456789abcdef01234';
  before(async () => {
    h = await startHarness({ env: { LUMENGATE_CORS_ORIGINS: 'https://app.example.com, http://localhost:5173', LUMENGATE_ADMIN_TOKEN: ADMIN } });
  });
  after(() => h.close());

  it('allows the listed origins only, answers preflight, never for /admin, never with credentials', async () => {
    const a = await h.account();
    const ok = await call(h.url, 'GET', '/api/v2/balance', { token: a.key, headers: { origin: 'https://app.example.com' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example.com');
    assert.equal(ok.headers.get('access-control-allow-credentials'), null);
    assert.match(ok.headers.get('access-control-expose-headers') ?? '', /x-ratelimit-remaining-hour/);
    const pre = await call(h.url, 'OPTIONS', '/api/v2/generate', {
      headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://localhost:5173');
    assert.match(pre.headers.get('access-control-allow-headers') ?? '', /authorization/);
    const other = await call(h.url, 'GET', '/api/v2/models', { headers: { origin: 'https://evil.example' } });
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const adminPre = await call(h.url, 'OPTIONS', '/admin/accounts', { headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' } });
    assert.equal(adminPre.headers.get('access-control-allow-origin'), null);
    const adminGet = await call(h.url, 'GET', '/admin/accounts', { token: ADMIN, headers: { origin: 'https://app.example.com' } });
    assert.equal(adminGet.status, 200);
    assert.equal(adminGet.headers.get('access-control-allow-origin'), null);
  });

  it('never for /admin written percent-encoded (/%61dmin is /admin to the router)', async () => {
    for (const path of ['/%61dmin/accounts', '/%61%64%6d%69%6e/accounts', '/%41dmin/accounts']) {
      const get = await call(h.url, 'GET', path, { token: ADMIN, headers: { origin: 'https://app.example.com' } });
      assert.equal(get.headers.get('access-control-allow-origin'), null, path);
      const pre = await call(h.url, 'OPTIONS', path, { headers: { origin: 'https://app.example.com', 'access-control-request-method': 'GET' } });
      assert.equal(pre.headers.get('access-control-allow-origin'), null, path);
    }
    assert.equal((await call(h.url, 'GET', '/%61dmin/accounts', { token: ADMIN })).status, 200, 'the router serves it as /admin/accounts');
  });

  it('refuses a malformed origin list at start-up', () => {
    assert.throws(() => securitySettings({ LUMENGATE_CORS_ORIGINS: 'https://app.example.com/path' }), /not an origin/);
    assert.throws(() => securitySettings({ LUMENGATE_CORS_ORIGINS: 'app.example.com' }), /not an origin/);
    assert.deepEqual(securitySettings({ LUMENGATE_CORS_ORIGINS: '*' }).corsOrigins, ['*']);
    assert.deepEqual(securitySettings({}).corsOrigins, []);
    assert.throws(() => securitySettings({ LUMENGATE_MAX_HEADER_SIZE: '10' }), /at least 1024/);
  });
});
