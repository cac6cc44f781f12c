// waitForGeneration against a real HTTP server whose generation completes after a few polls.
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { LumengateClient } from './client.js';
import { sendJson, startServer, type TestServer } from './test-support/http-server.js';
import type { Generation } from './types.js';

function generation(id: number, status: Generation['status']): Generation {
  const done = status !== 'pending';
  return {
    id,
    status,
    model_slug: 'kling-v2.1',
    model: 'kling-v2.1',
    result_text: null,
    content: null,
    result_url: status === 'completed' ? `https://storage.example/generations/${id}.mp4` : null,
    thumbnail_url: null,
    error: status === 'failed' ? 'Provider error: content policy violation' : null,
    tokens_spent: status === 'completed' ? 26 : 0,
    tokens_used: status === 'completed' ? 26 : 0,
    balance_remaining: done ? 274 : null,
    processing_ms: done ? 55000 : null,
    result_metadata: status === 'completed' ? { duration: 5 } : null,
    usage: null,
    created_at: '2026-03-08T12:05:00Z',
    completed_at: done ? '2026-03-08T12:05:55Z' : null,
  };
}

describe('waitForGeneration', () => {
  let server: TestServer;
  let client: LumengateClient;
  /** Arrival times of polls per generation id. */
  const polls = new Map<number, number[]>();
  /** How many polls answer `pending` before the final status, per id. */
  const plan = new Map<number, { pendingPolls: number; final: Generation['status'] }>([
    [18500, { pendingPolls: 3, final: 'completed' }],
    [18503, { pendingPolls: 1, final: 'failed' }],
    [18600, { pendingPolls: Infinity, final: 'completed' }],
  ]);

  before(async () => {
    server = await startServer((req, res) => {
      const id = Number(/^\/api\/v2\/generate\/(\d+)$/.exec(req.url ?? '')?.[1]);
      const entry = plan.get(id);
      if (!entry) return sendJson(res, 404, { error: 'not_found', message: 'Generation not found', details: {} });
      const times = polls.get(id) ?? [];
      times.push(performance.now());
      polls.set(id, times);
      sendJson(res, 200, generation(id, times.length > entry.pendingPolls ? entry.final : 'pending'));
    });
    client = new LumengateClient({ apiKey: 'nb_EXAMPLEKEY', baseUrl: server.url });
  });
  after(() => server.close());

  it('backs off exponentially and returns the completed generation', async (t) => {
    // The pauses the client asks for (its own setTimeout calls), not measured gaps: a timer can fire
    // a little early against a stale event-loop clock on a busy machine, and late at any time.
    const asked: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    t.mock.method(globalThis, 'setTimeout', ((fn: () => void, ms?: number) => {
      asked.push(ms ?? 0);
      return realSetTimeout(fn, ms);
    }) as typeof setTimeout);
    const result = await client.waitForGeneration(18500, { intervalMs: 20, maxIntervalMs: 1000, timeoutMs: 30_000 });
    assert.equal(result.status, 'completed');
    assert.equal(result.result_url, 'https://storage.example/generations/18500.mp4');
    const times = polls.get(18500)!;
    assert.equal(times.length, 4);
    // Each pause doubles: 20, 40, 80 ms between the four polls (other timers, e.g. the HTTP
    // client's own, are not multiples of the interval and are left out).
    assert.deepEqual(
      asked.filter((ms) => [20, 40, 80, 160, 320, 640, 1000].includes(ms)),
      [20, 40, 80],
    );
  });

  it('returns a failed generation as a result', async () => {
    const result = await client.waitForGeneration(18503, { intervalMs: 5 });
    assert.equal(result.status, 'failed');
    assert.equal(result.error, 'Provider error: content policy violation');
  });

  it('throws code timeout when the generation stays pending', async () => {
    await assert.rejects(client.waitForGeneration(18600, { intervalMs: 10, timeoutMs: 60 }), {
      name: 'LumengateError',
      code: 'timeout',
    });
    // It polled, found the generation pending, and gave up at the deadline (how many polls fit in
    // 60 ms depends on the machine's load, so only "at least one" is an outcome).
    assert.ok(polls.get(18600)!.length >= 1);
  });

  it('stops when the signal aborts', async () => {
    const controller = new AbortController();
    const waiting = client.waitForGeneration(18600, { intervalMs: 60_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(waiting, { name: 'AbortError' });
  });

  it('throws not_found for an unknown id', async () => {
    await assert.rejects(client.waitForGeneration(1, { intervalMs: 5 }), { code: 'not_found', status: 404 });
  });
});
