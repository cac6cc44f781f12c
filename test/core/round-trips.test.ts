// Database and Redis round trips per request on PostgreSQL + Redis (docs/BENCHMARKS.md, "Round 2"),
// pinned so that a change to them is deliberate: counted with the bench's counter
// (bench/round-trip-counter.ts: pg and ioredis wrapped in this process, nothing timed). The counts
// are the critical path of the throughput goal; a lever that saves one updates the numbers here.
// Runs only with TEST_DATABASE_URL (PostgreSQL) and TEST_REDIS_URL; on SQLite it is skipped.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../support/harness.js';
import { startFakeAnthropic } from '../support/fake-anthropic.js';
import type { FakeUpstream } from '../support/fake-upstream.js';
import { RoundTripCounter, tripsOf } from '../../bench/round-trip-counter.js';

const onPostgresAndRedis = process.env.TEST_DATABASE_URL?.startsWith('postgres') && !!process.env.TEST_REDIS_URL;

describe('round trips per request (PostgreSQL + Redis)', { skip: onPostgresAndRedis ? false : 'needs TEST_DATABASE_URL (PostgreSQL) and TEST_REDIS_URL' }, () => {
  let h: Harness;
  let anthropic: FakeUpstream;
  let counter: RoundTripCounter;
  before(async () => {
    anthropic = await startFakeAnthropic();
    h = await startHarness({ env: { ANTHROPIC_API_KEY: 'sk-ant-fake', ANTHROPIC_BASE_URL: `${anthropic.origin}/v1` } });
    counter = new RoundTripCounter(h.server.app.server);
    h.fake.respondWith({ chunks: ['Hello', ', world'], delayMs: 0 });
  });
  after(async () => {
    await h?.close();
    await anthropic?.close();
  });

  /** The second of two identical requests (the first warms compiled queries and Redis scripts). */
  async function counted(send: () => Promise<{ status: number }>) {
    assert.equal((await send()).status, 200);
    const rec = counter.start();
    const res = await send();
    // A non-streaming answer is sent after its settlement: nothing of the request is still in flight.
    assert.equal(rec.inFlight, 0);
    const { ops } = counter.stop();
    assert.equal(res.status, 200);
    return { ops, trips: tripsOf(ops), statements: ops.filter((o) => o.kind === 'pg').map((o) => o.text.slice(0, 40)) };
  }

  for (const path of ['/api/v2/generate', '/v1/chat/completions']) {
    it(`${path}, rate-limited plan: caller read, both counters in one script, hold | upstream | settlement`, async () => {
      const { key } = await h.account({ plan: 'pro', tokens: 100_000 });
      const body = path === '/api/v2/generate' ? { model: 'gpt-5-nano', prompt: 'hi' } : { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'hi' }] };
      const { trips, statements } = await counted(() => h.post(path, body, key));
      assert.deepEqual(
        { pg: trips.pg, pgClients: trips.pgClients, redis: trips.redis, before: trips.before, after: trips.after },
        { pg: 3, pgClients: 1, redis: 1, before: 3, after: 1 },
        statements.join('\n'),
      );
    });
  }

  it('/api/v2/generate, plan without limits: no Redis round trip', async () => {
    const { key } = await h.account({ plan: 'elite', tokens: 100_000 });
    const { trips, statements } = await counted(() => h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi' }, key));
    assert.deepEqual({ pg: trips.pg, redis: trips.redis, before: trips.before, after: trips.after }, { pg: 3, redis: 0, before: 2, after: 1 }, statements.join('\n'));
  });

  it("a tool loop's calls: looked up (one statement before the hold) only for a provider that keeps their reasoning state, kept (one after the settlement) only when they have some", async () => {
    const { key } = await h.account({ plan: 'elite', tokens: 100_000 });
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
    const loop = [
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'toolu_01Trips', type: 'function', function: { name: 'get_weather', arguments: '{}' } }] },
      { role: 'tool', tool_call_id: 'toolu_01Trips', content: 'sunny' },
    ];
    const trips = async (body: Record<string, unknown>) => {
      const { trips: t, statements } = await counted(() => h.post('/v1/chat/completions', { ...body, tools }, key));
      return [{ pg: t.pg, before: t.before, after: t.after }, statements.join('\n')] as const;
    };
    const [openai, openaiStatements] = await trips({ model: 'gpt-5-nano', messages: loop });
    assert.deepEqual(openai, { pg: 3, before: 2, after: 1 }, openaiStatements);
    anthropic.respondWith({ chunks: ['Sunny.'] });
    const [claude, claudeStatements] = await trips({ model: 'claude-haiku-4.5', messages: loop });
    assert.deepEqual(claude, { pg: 4, before: 3, after: 1 }, claudeStatements);
    anthropic.respondWith({ chunks: ['Sunny.'] });
    const [plain, plainStatements] = await trips({ model: 'claude-haiku-4.5', messages: loop.slice(0, 1) });
    assert.deepEqual(plain, { pg: 3, before: 2, after: 1 }, plainStatements);
    anthropic.respondWith({ reasoning: ['Hm.'], chunks: [], toolCalls: [{ id: 'toolu_01Kept', name: 'get_weather', arguments: ['{}'] }] });
    const [kept, keptStatements] = await trips({ model: 'claude-haiku-4.5', reasoning_effort: 'low', messages: loop.slice(0, 1) });
    assert.deepEqual(kept, { pg: 4, before: 2, after: 2 }, keptStatements);
  });

  it('GET /api/v2/generate/{id}: caller, then the generation with the balance beside the rate-limit peek', async () => {
    const { key } = await h.account({ plan: 'pro', tokens: 100_000 });
    const created = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'hi' }, key);
    assert.equal(created.status, 200);
    const { ops, trips, statements } = await counted(() => h.get(`/api/v2/generate/${created.json.id}`, key));
    assert.deepEqual({ pg: trips.pg, redis: trips.redis, upstream: trips.upstream }, { pg: 2, redis: 1, upstream: false }, statements.join('\n'));
    // The peek is sent before the generation read has come back: it does not wait for it.
    const [peek] = ops.filter((o) => o.kind === 'redis');
    const read = ops.filter((o) => o.kind === 'pg')[1]!;
    assert.ok(peek && peek.start < read.end, `peek sent at ${peek?.start}, generation read back at ${read.end}`);
  });
});
