// Chaos: things break mid-generation and the money must still add up. For every case: the client
// gets a well-formed answer (a JSON error envelope, or an SSE stream ending in `error` or
// `generation_end` then `[DONE]`), the balance equals the ledger, no generation is left pending,
// and the server still serves a normal generation afterwards, charged exactly once.
// The upstream cases run on both engines; PostgreSQL restarts, Redis stop/start and SIGKILL of one
// of two instances run in the PostgreSQL + Redis pass of `npm test`.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import pino from 'pino';
import { ledgerMismatches, releaseStaleHolds } from '../../src/billing/ledger.js';
import type { Db } from '../../src/db/connect.js';
import { sseEvents, startHarness, type Harness } from '../support/harness.js';
import type { FakeScript } from '../support/fake-openai.js';
import { startGatedOpenAI, type GatedUpstream } from '../support/gated-openai.js';
import { freePort } from '../support/free-port.js';
import { serverEvents, untilEvent } from '../support/server-events.js';
import { LineLog } from '../support/waits.js';
import { balanceOf, harnessOnPrivatePostgres, ledgerKinds, needsPg, needsPgRedis, openSharedDatabase, rawStream, type PrivatePostgresRig, type SharedDatabase } from '../support/shared-db.js';

const MODEL = 'gpt-5-nano';

type Outcome = { kind: 'completed' | 'failed'; id: number | undefined; tokensSpent: number };

/** Asserts an SSE body is well formed: generation_start … then `error` or `generation_end`, then [DONE]. */
function wellFormedStream(status: number, text: string): Outcome {
  assert.equal(status, 200, text.slice(0, 500));
  const events = sseEvents(text);
  assert.ok(events.length >= 3, `too few events: ${text.slice(0, 500)}`);
  assert.equal(events[0].type, 'generation_start');
  assert.equal(events.at(-1), '[DONE]', 'the stream ends with [DONE]');
  const last = events.at(-2);
  assert.ok(last.type === 'error' || last.type === 'generation_end', `ends in ${JSON.stringify(last).slice(0, 300)}`);
  assert.equal(events.filter((e) => e === '[DONE]').length, 1);
  assert.equal(events.filter((e) => e.type === 'error' || e.type === 'generation_end').length, 1, 'exactly one terminal event');
  if (last.type === 'error') {
    assert.equal(typeof last.code, 'string');
    assert.ok(typeof last.message === 'string' && last.message.length > 0);
    return { kind: 'failed', id: events[0].id, tokensSpent: 0 };
  }
  assert.ok(last.tokens_spent > 0, 'a completed stream is charged');
  return { kind: 'completed', id: events[0].id, tokensSpent: last.tokens_spent };
}

/** Asserts a JSON answer is a completed generation or the error envelope. */
function wellFormedJson(r: { status: number; headers: Headers; json: any; text: string }): Outcome {
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/, r.text.slice(0, 300));
  assert.ok(r.json && typeof r.json === 'object', `not JSON: ${r.text.slice(0, 300)}`);
  if (r.status === 200) {
    assert.equal(r.json.status, 'completed');
    assert.ok(r.json.tokens_spent > 0);
    return { kind: 'completed', id: r.json.id, tokensSpent: r.json.tokens_spent };
  }
  assert.ok(r.status >= 400, `status ${r.status}`);
  assert.equal(typeof r.json.error, 'string');
  assert.ok(typeof r.json.message === 'string' && r.json.message.length > 0);
  return { kind: 'failed', id: r.json.details?.generation_id, tokensSpent: 0 };
}

async function pendingGenerations(db: Db): Promise<number[]> {
  const rows = await db.kysely.selectFrom('generations').select('id').where('status', '=', 'pending').execute();
  return rows.map((r) => r.id);
}

/**
 * Settlement may run just after the response ends: resolves once nothing is pending, looked at again
 * at each settlement the servers publish (in-process, or relayed from instances: server-events.ts).
 */
async function noPending(db: Db): Promise<void> {
  let left: number[] = [];
  await untilEvent(
    [serverEvents.settled],
    async () => {
      left = await pendingGenerations(db);
      return left.length === 0;
    },
    () => `generations left pending: ${left.join(', ')}`,
  );
}

/** The money of one finished generation: hold+charge when completed, hold+release when failed. */
async function settledOnce(db: Db, o: Outcome): Promise<void> {
  if (o.id === undefined) return;
  const g = await db.kysely.selectFrom('generations').select(['status', 'tokens_spent']).where('id', '=', o.id).executeTakeFirstOrThrow();
  assert.equal(g.status, o.kind, `generation ${o.id}`);
  assert.deepEqual(await ledgerKinds(db, o.id), o.kind === 'completed' ? ['charge', 'hold'] : ['hold', 'release'], `ledger of generation ${o.id}`);
}

async function postJson(url: string, path: string, body: unknown, key: string) {
  const res = await fetch(url + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.text();
  let json: any = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* SSE */
  }
  return { status: res.status, headers: res.headers, json, text };
}

/**
 * The closing checks of every case: balance = ledger, nothing pending, and a normal generation
 * (`release` lets a gated upstream answer it) is served and charged exactly once.
 */
async function stillServes(db: Db, url: string, account: { id: number; key: string }, release?: () => Promise<void>): Promise<void> {
  await noPending(db);
  assert.deepEqual(await ledgerMismatches(db), []);
  const before = await balanceOf(db, account.id);
  const answer = postJson(url, '/api/v2/generate', { model: MODEL, prompt: 'all good?' }, account.key);
  if (release) await release();
  const r = await answer;
  assert.equal(r.status, 200, r.text.slice(0, 300));
  assert.equal(r.json.status, 'completed');
  assert.ok(r.json.tokens_spent > 0);
  assert.equal(await balanceOf(db, account.id), before - r.json.tokens_spent, 'charged exactly once');
  assert.deepEqual(await ledgerKinds(db, r.json.id), ['charge', 'hold']);
  await noPending(db);
  assert.deepEqual(await ledgerMismatches(db), []);
}

const REDIS_CONNECTED = '"msg":"redis connected"';

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      if (b.toString().includes('Ready to accept connections')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
  return child;
}

// ---------------------------------------------------------------------------------------------
// The upstream misbehaves: both engines.

const garbage = [
  // Lines that are no SSE field at all, control bytes, a lone CR, invalid JSON after `data:`.
  '\u0000\u0001\u0002 not sse at all \uFFFD\n\n',
  'event\u0000: \u00ff\u00fe\r\n\r\n',
  ': a comment \u2028 with a line separator\n\n',
  'data: {"choices":[{"delta":{"content":"unterminated\n\n',
].join('');

// `cut`: the upstream never ends its answer, so the server must close the connection itself.
const upstreamCases: Array<{ name: string; script: FakeScript; expect: 'failed' | 'any'; cut?: boolean }> = [
  { name: 'connection reset mid-stream', script: { chunks: ['one', 'two'], ending: 'reset', delayMs: 20 }, expect: 'failed' },
  // Reset right after the bytes: the client may see the reset before any content (then it is retried).
  { name: 'connection reset at once', script: { chunks: ['one', 'two'], ending: 'reset' }, expect: 'any' },
  { name: 'stall mid-stream (gap timeout)', script: { chunks: ['one'], ending: 'stall' }, expect: 'failed', cut: true },
  { name: 'garbage bytes mid-stream', script: { chunks: ['one'], raw: garbage, ending: 'finish' }, expect: 'failed' },
  { name: 'garbage that is no SSE field, then a clean finish', script: { chunks: ['one'], raw: '\u0000\u0001 junk \uFFFD\n\nevent\u0000: \u00ff\n\n: comment\n\n', ending: 'finish' }, expect: 'any' },
  { name: 'a 10 MB single line', script: { chunks: ['one'], endlessLine: 10 * 1024 * 1024 }, expect: 'failed', cut: true },
  { name: 'a 10 MB single line before any content', script: { chunks: [], endlessLine: 10 * 1024 * 1024 }, expect: 'failed', cut: true },
];

describe('chaos: the upstream misbehaves', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ heartbeatMs: 50, catalog: { models: [{ slug: MODEL, timeouts: { chunk_gap_ms: 300, first_token_ms: 2000, total_ms: 20_000 } }] } });
  });
  after(async () => {
    await h?.close();
  });

  for (const c of upstreamCases) {
    for (const mode of ['stream', 'json'] as const) {
      it(`${c.name} (${mode}): well-formed answer, balance = ledger, nothing pending, still serves`, { timeout: 120_000 }, async () => {
        const a = await h.account({ tokens: 20 });
        h.fake.respondWith([c.script, {}]);
        const arrived = h.fake.nextRequest();
        const r = await h.post(mode === 'stream' ? '/api/v2/generate/stream' : '/api/v2/generate', { model: MODEL, prompt: 'x' }, a.key);
        const o = mode === 'stream' ? wellFormedStream(r.status, r.text) : wellFormedJson(r);
        if (c.expect === 'failed') assert.equal(o.kind, 'failed', r.text.slice(0, 300));
        // An upstream answer that never ends is cut: its connection is closed, not left open.
        if (c.cut) await (await arrived).closed;
        else await arrived;
        await noPending(h.server.db);
        await settledOnce(h.server.db, o);
        assert.equal(await h.balance(a.id), 20 - o.tokensSpent);
        await stillServes(h.server.db, h.url, a);
      });
    }
  }
});

// ---------------------------------------------------------------------------------------------
// PostgreSQL restarts while streams are running (a private server of the test's own).

describe('chaos: PostgreSQL restarted mid-stream', { skip: needsPg }, () => {
  let rig: PrivatePostgresRig;
  before(async () => {
    rig = await harnessOnPrivatePostgres();
  });
  after(async () => {
    await rig?.close();
  });

  it('streams and a JSON request held mid-answer across a restart: well-formed, settled once, still serves', { timeout: 180_000 }, async () => {
    const { pg, upstream, h } = rig;
    const a = await h.account({ tokens: 20 });
    const streams = [1, 2].map(() => h.post('/api/v2/generate/stream', { model: MODEL, prompt: 'x' }, a.key));
    const plain = h.post('/api/v2/generate', { model: MODEL, prompt: 'x' }, a.key);
    await upstream.waitFor(3);
    assert.equal(await h.balance(a.id), 17);

    // Restart: the server's connections are terminated; then the upstream finishes while it is down.
    pg.stop();
    const down = await h.post('/api/v2/generate/stream', { model: MODEL, prompt: 'y' }, a.key);
    assert.equal(down.status, 503);
    assert.equal(down.json.error, 'service_unavailable');
    upstream.release();
    pg.start();

    const outcomes = [...(await Promise.all(streams)).map((r) => wellFormedStream(r.status, r.text)), wellFormedJson(await plain)];
    await noPending(h.server.db);
    for (const o of outcomes) await settledOnce(h.server.db, o);
    const spent = outcomes.reduce((s, o) => s + o.tokensSpent, 0);
    assert.equal(await h.balance(a.id), 20 - spent);
    await stillServes(h.server.db, h.url, a, async () => {
      await upstream.waitFor(1);
      upstream.release();
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Redis (rate-limit counters) stopped and started while a stream runs (a private redis-server).

describe('chaos: Redis stopped and started mid-stream', { skip: needsPgRedis }, () => {
  let redis: ChildProcess | undefined;
  let upstream: GatedUpstream;
  let h: Harness;
  let port: number;
  // The server's log (info), to see it reconnect to Redis.
  const log = new LineLog();
  before(async () => {
    port = await freePort();
    redis = await startRedis(port);
    upstream = await startGatedOpenAI('answer');
    h = await startHarness({ env: { REDIS_URL: `redis://127.0.0.1:${port}`, OPENAI_BASE_URL: `${upstream.origin}/v1` }, logger: pino({ level: 'info' }, log.writable()) });
  });
  after(async () => {
    redis?.kill('SIGKILL');
    await h?.close();
    await upstream?.close();
  });

  it('the running stream finishes, new requests get a JSON 503 while down, recovery without a restart', { timeout: 120_000 }, async () => {
    const a = await h.account({ tokens: 20 });
    const running = h.post('/api/v2/generate/stream', { model: MODEL, prompt: 'x' }, a.key);
    await upstream.waitFor(1);

    redis!.kill('SIGTERM');
    await once(redis!, 'exit');
    redis = undefined;
    const down = await h.post('/api/v2/generate/stream', { model: MODEL, prompt: 'y' }, a.key);
    wellFormedJson(down);
    assert.equal(down.status, 503);
    assert.equal(down.json.error, 'service_unavailable');
    upstream.release();
    const o = wellFormedStream((await running).status, (await running).text);
    assert.equal(o.kind, 'completed');
    await noPending(h.server.db);
    await settledOnce(h.server.db, o);
    assert.equal(await h.balance(a.id), 20 - o.tokensSpent, 'the 503 held nothing');

    const connects = log.count(REDIS_CONNECTED);
    redis = await startRedis(port);
    // The server reconnects by itself: it logs "redis connected" once its connection is ready again
    // (src/limits/redis.ts). Then a probe gets past the limits; the gated upstream holds it, so it is
    // released once it arrives.
    await log.until(() => log.count(REDIS_CONNECTED) > connects, 'the server reconnected to Redis');
    const attempt = h.post('/api/v2/generate', { model: MODEL, prompt: 'probe' }, a.key);
    const first = await Promise.race([attempt.then(() => 'answered'), upstream.waitFor(1).then(() => 'upstream')]);
    if (first === 'upstream') upstream.release();
    const back = await attempt;
    assert.equal(back.status, 200, 'Redis is back');
    await noPending(h.server.db);
    await stillServes(h.server.db, h.url, a, async () => {
      await upstream.waitFor(1);
      upstream.release();
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Two instances on one PostgreSQL and one Redis; one is SIGKILLed mid-stream. The other keeps
// serving; the killed one, restarted with the same instance id, releases its dead holds at start.

describe('chaos: SIGKILL of one of two instances mid-stream', { skip: needsPgRedis }, () => {
  let shared: SharedDatabase;
  let upstream: GatedUpstream;
  before(async () => {
    shared = await openSharedDatabase();
    upstream = await startGatedOpenAI('answer');
  });
  after(async () => {
    await shared?.close();
    await upstream?.close();
  });

  it('the survivor finishes its own streams; the restarted instance releases the dead holds; both still serve', { timeout: 180_000 }, async () => {
    const db = shared.db;
    const env = { OPENAI_API_KEY: 'sk-fake', OPENAI_BASE_URL: `${upstream.origin}/v1` };
    const [a, b] = await Promise.all(['chaos-a', 'chaos-b'].map((id) => shared.start({ ...env, LUMENGATE_INSTANCE_ID: id })));
    const acc = await shared.account('pro', 20);
    const account = { id: acc.id, key: acc.key };

    // Two streams on A; a stream and a JSON request on B; all held mid-answer by the upstream.
    const onA = [1, 2].map(() => rawStream(a!.url, account.key));
    const onB = [rawStream(b!.url, account.key), postJson(b!.url, '/api/v2/generate', { model: MODEL, prompt: 'x' }, account.key)] as const;
    await upstream.waitFor(4);
    assert.equal(await balanceOf(db, acc.id), 16);

    await a!.kill();
    for (const body of await Promise.all(onA)) {
      assert.ok(!body.includes('generation_end'), 'a killed stream never claims success');
    }
    const dead = await db.kysely.selectFrom('generations').select(['id', 'status']).where('instance_id', '=', 'chaos-a').execute();
    assert.deepEqual(
      dead.map((g) => g.status),
      ['pending', 'pending'],
      'nothing ran after SIGKILL',
    );

    // The survivor is untouched: its held answers finish and are charged once.
    upstream.release();
    const outcomes = [wellFormedStream(200, await onB[0]), wellFormedJson(await onB[1])];
    for (const o of outcomes) {
      assert.equal(o.kind, 'completed');
      await settledOnce(db, o);
    }
    assert.deepEqual((await pendingGenerations(db)).sort(), dead.map((g) => g.id).sort(), 'only the dead instance’s generations are pending');

    // Restarted with the same instance id: the dead holds are released during start-up.
    const restarted = await shared.start({ ...env, LUMENGATE_INSTANCE_ID: 'chaos-a' });
    assert.deepEqual(await pendingGenerations(db), []);
    for (const g of dead) await settledOnce(db, { kind: 'failed', id: g.id, tokensSpent: 0 });
    const released = await db.kysely.selectFrom('generations').select('error').where('instance_id', '=', 'chaos-a').execute();
    assert.deepEqual(
      released.map((g) => g.error),
      ['server_interrupted', 'server_interrupted'],
    );
    assert.equal(await balanceOf(db, acc.id), 20 - outcomes.reduce((s, o) => s + o.tokensSpent, 0));

    const release = async () => {
      await upstream.waitFor(1);
      upstream.release();
    };
    await stillServes(db, restarted.url, account, release);
    await stillServes(db, b!.url, account, release);

    // Killed again, and this time not restarted: the stale-hold sweeper (every instance runs it
    // every LUMENGATE_SWEEP_MS) releases the hold once its deadline (total timeout + 60 s) passed.
    // Its tick after the deadline is driven here directly instead of waiting a minute.
    const doomed = rawStream(restarted.url, account.key);
    await upstream.waitFor(1);
    await restarted.kill();
    assert.ok(!(await doomed).includes('generation_end'));
    upstream.release(); // resets the upstream's count of waiting requests (the dead one's is gone)
    const left = await pendingGenerations(db);
    const { hold_expires_at } = await db.kysely.selectFrom('generations').select('hold_expires_at').where('id', '=', left[0]!).executeTakeFirstOrThrow();
    const deadline = new Date(hold_expires_at).getTime();
    assert.equal(await releaseStaleHolds(db, new Date(deadline)), 0, 'not before its deadline');
    assert.equal(await releaseStaleHolds(db, new Date(deadline + 1)), 1, 'the first sweep after the deadline releases it');
    await settledOnce(db, { kind: 'failed', id: left[0], tokensSpent: 0 });
    await stillServes(db, b!.url, account, release);
  });
});
