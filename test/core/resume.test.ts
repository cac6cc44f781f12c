// Resumable streams (docs/api.md): a stream cut mid-way is re-attached with Last-Event-ID (GET
// /api/v2/generate/:id/stream, or the EventSource way: the same POST again) and every missing event
// arrives exactly once; background generations survive their client; rule 16 holds without it.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { settled, startHarness, type Harness } from '../support/harness.js';
import { startGatedOpenAI, type GatedUpstream } from '../support/gated-openai.js';
import { contentOf, rawStream, type RawStream } from '../support/raw-stream.js';
import { EndedArena, MemoryEventLog, StreamRecorder, MAX_EVENTS, type EventLog } from '../../src/generation/event-log.js';
import { settingsFromEnv } from '../../src/config/env.js';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// The heap test below collects garbage itself.
setFlagsFromString('--expose-gc');

const words = Array.from({ length: 12 }, (_, i) => `w${i} `);
const full = words.join('');
const body = (extra: object = {}) => ({ model: 'gpt-5-nano', prompt: 'long', ...extra });

/** The frames are one stream's: ids `<gen>:1, 2, 3, …` without gaps or repeats, then [DONE] (no id). */
function assertWholeStream(frames: Array<{ id?: string; data: any }>, gen: number): void {
  const events = frames.filter((f) => f.data !== '[DONE]');
  assert.deepEqual(
    events.map((f) => f.id),
    events.map((_, i) => `${gen}:${i + 1}`),
  );
  assert.equal(events[0]!.data.type, 'generation_start');
  assert.equal(frames.at(-1)!.data, '[DONE]');
  assert.equal(frames.filter((f) => f.data === '[DONE]').length, 1);
}

describe('resumable streams', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ heartbeatMs: 1000 });
  });
  after(() => h.close());

  /** Starts a stream, cuts it after `n` content deltas; returns its frames and generation id. */
  async function cutAfter(key: string, n: number, extra: object = {}): Promise<{ first: ReturnType<RawStream['frames']>; gen: number }> {
    const s = await rawStream(`${h.url}/api/v2/generate/stream`, { method: 'POST', key, body: body(extra) });
    assert.equal(s.status, 200);
    await s.until((f) => f.filter((e) => e.data.type === 'content_delta').length >= n);
    const first = s.frames();
    s.destroy();
    return { first, gen: Number(s.headers['x-generation-id']) };
  }

  it('background: cut mid-way, GET with Last-Event-ID replays the rest exactly once, then live; completed and charged', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: words, delayMs: 15 });
    const requestsBefore = h.fake.requests.length;
    const { first, gen } = await cutAfter(a.key, 3, { background: true });
    const last = first.at(-1)!.id!;
    const rest = await rawStream(`${h.url}/api/v2/generate/${gen}/stream`, { method: 'GET', key: a.key, headers: { 'last-event-id': last } });
    assert.equal(rest.status, 200);
    assert.equal(rest.headers['x-generation-id'], String(gen));
    await rest.ended;
    const all = [...first, ...rest.frames()];
    assertWholeStream(all, gen);
    assert.equal(contentOf(all), full);
    assert.equal(all.at(-2)!.data.type, 'generation_end');
    const g = await settled(h, gen, a.key);
    assert.equal(g.status, 'completed');
    assert.equal(g.result_text, full);
    assert.equal(g.result_metadata.finish_reason, 'stop');
    assert.equal(g.tokens_spent, 1);
    assert.equal(await h.balance(a.id), 9);
    assert.equal(h.fake.requests.length, requestsBefore + 1);
  });

  it('background: the EventSource way (same POST with Last-Event-ID) re-attaches instead of starting and charging a new generation', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: words, delayMs: 15 });
    const requestsBefore = h.fake.requests.length;
    const { first, gen } = await cutAfter(a.key, 2, { background: true });
    const again = await rawStream(`${h.url}/api/v2/generate/stream`, { method: 'POST', key: a.key, body: body({ background: true }), headers: { 'last-event-id': first.at(-1)!.id! } });
    assert.equal(again.status, 200);
    await again.ended;
    const all = [...first, ...again.frames()];
    assertWholeStream(all, gen);
    assert.equal(contentOf(all), full);
    assert.equal(h.fake.requests.length, requestsBefore + 1, 'no second upstream request');
    assert.equal((await settled(h, gen, a.key)).status, 'completed');
    assert.equal(await h.balance(a.id), 9, 'charged once');
    assert.deepEqual(await h.ledgerMismatches(), []);
  });

  it('without background rule 16 holds: cut after content -> upstream aborted, charged; re-attach replays the end', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: words, delayMs: 30 });
    const { first, gen } = await cutAfter(a.key, 1);
    const g = await settled(h, gen, a.key);
    assert.equal(g.status, 'completed');
    assert.equal(g.result_metadata.finish_reason, 'client_disconnected');
    assert.notEqual(g.result_text, full);
    assert.equal(await h.balance(a.id), 9);
    const rest = await rawStream(`${h.url}/api/v2/generate/stream`, { method: 'POST', key: a.key, body: body(), headers: { 'last-event-id': first.at(-1)!.id! } });
    await rest.ended;
    const all = [...first, ...rest.frames()];
    assertWholeStream(all, gen);
    assert.equal(all.at(-2)!.data.type, 'generation_end');
    assert.equal(await h.balance(a.id), 9, 're-attaching charged nothing more');
  });

  it('without background, cut before any content: failed, 0 charged; re-attach answers the error and ends', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['never'], firstChunkDelayMs: 1500 });
    const s = await rawStream(`${h.url}/api/v2/generate/stream`, { method: 'POST', key: a.key, body: body() });
    await s.until((f) => f.some((e) => e.data.type === 'generation_start'));
    const gen = Number(s.headers['x-generation-id']);
    s.destroy();
    const g = await settled(h, gen, a.key);
    assert.equal(g.status, 'failed');
    assert.equal(g.tokens_spent, 0);
    assert.equal(await h.balance(a.id), 10);
    const rest = await rawStream(`${h.url}/api/v2/generate/${gen}/stream`, { method: 'GET', key: a.key, headers: { 'last-event-id': `${gen}:1` } });
    await rest.ended;
    assert.deepEqual(
      rest.frames().map((f) => [f.id, f.data.type ?? f.data, f.data.code]),
      [
        [`${gen}:2`, 'error', 'client_disconnected'],
        [undefined, '[DONE]', undefined],
      ],
    );
  });

  it('after the end: replays the tail from Last-Event-ID, the whole stream without it, only [DONE] from the last id', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['a', 'b', 'c'] });
    const done = await rawStream(`${h.url}/api/v2/generate/stream`, { method: 'POST', key: a.key, body: body() });
    const original = (await done.ended, done.frames());
    const gen = Number(done.headers['x-generation-id']);
    assertWholeStream(original, gen);
    const replay = async (lastEventId?: string) => {
      const r = await rawStream(`${h.url}/api/v2/generate/${gen}/stream`, { method: 'GET', key: a.key, headers: lastEventId ? { 'last-event-id': lastEventId } : {} });
      assert.equal(r.status, 200);
      await r.ended;
      return r.frames();
    };
    assert.deepEqual(await replay(`${gen}:2`), original.slice(2));
    assert.deepEqual(await replay(), original);
    assert.deepEqual(
      await replay(original.at(-2)!.id),
      ['[DONE]'].map((data) => ({ data })),
    );
    assert.equal(await h.balance(a.id), 9);
  });

  it("a generation that is not the caller's: 404 on GET and on the POST re-attach, nothing started", async () => {
    const owner = await h.account({ tokens: 10 });
    const other = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['mine'] });
    const r = await h.post('/api/v2/generate/stream', body(), owner.key);
    const gen = Number(r.headers.get('x-generation-id'));
    const requestsBefore = h.fake.requests.length;
    const get = await fetch(`${h.url}/api/v2/generate/${gen}/stream`, { headers: { authorization: `Bearer ${other.key}`, 'last-event-id': `${gen}:1` } });
    assert.equal(get.status, 404);
    assert.equal((await get.json()).error, 'not_found');
    const post = await h.post('/api/v2/generate/stream', body(), other.key, { 'last-event-id': `${gen}:1` });
    assert.equal(post.status, 404);
    assert.equal((await fetch(`${h.url}/api/v2/generate/999999/stream`, { headers: { authorization: `Bearer ${owner.key}` } })).status, 404);
    const mismatch = await fetch(`${h.url}/api/v2/generate/${gen}/stream`, { headers: { authorization: `Bearer ${owner.key}`, 'last-event-id': `${gen + 1}:1` } });
    assert.equal(mismatch.status, 400);
    assert.equal(h.fake.requests.length, requestsBefore);
    assert.equal(await h.balance(other.id), 10);
  });

  it('background is a text option: accepted for text models, a wrong type is 422', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    assert.equal((await h.post('/api/v2/generate', body({ background: true }), a.key)).status, 200);
    assert.equal((await h.post('/api/v2/generate', body({ params: { background: true } }), a.key)).status, 200);
    assert.equal((await h.post('/api/v2/generate', body({ background: 'yes' }), a.key)).status, 422);
  });
});

describe('resumable streams: re-attached while the generation is held upstream', () => {
  let gated: GatedUpstream;
  let h: Harness;
  before(async () => {
    gated = await startGatedOpenAI('held text');
    // No heartbeat: a ping must not be what sends a re-attached stream's head.
    h = await startHarness({ heartbeatMs: 0, env: { OPENAI_BASE_URL: `${gated.origin}/v1` } });
  });
  after(async () => {
    await h.close();
    await gated.close();
  });

  // The timeout bounds a failure only: without the head sent at once, the re-attach below never answers.
  it('background: the client leaves, re-attaches (the head answered at once, before any new event), and receives the live end; charged once', { timeout: 20_000 }, async () => {
    const a = await h.account({ tokens: 10 });
    const s = await rawStream(`${h.url}/api/v2/generate/stream`, { method: 'POST', key: a.key, body: body({ background: true }) });
    await s.until((f) => f.some((e) => e.data.type === 'content_delta'));
    const first = s.frames();
    const gen = Number(s.headers['x-generation-id']);
    s.destroy();
    const rest = await rawStream(`${h.url}/api/v2/generate/${gen}/stream`, { method: 'GET', key: a.key, headers: { 'last-event-id': first.at(-1)!.id! } });
    assert.equal(rest.status, 200);
    assert.equal(rest.headers['x-generation-id'], String(gen));
    assert.deepEqual(rest.frames(), [], 'nothing new to replay yet');
    // Still running: nothing after the last event yet, the generation is pending.
    assert.equal((await h.get(`/api/v2/generate/${gen}`, a.key)).json.status, 'pending');
    gated.release();
    await rest.ended;
    const all = [...first, ...rest.frames()];
    assertWholeStream(all, gen);
    assert.equal(contentOf(all), 'held text');
    assert.equal(all.at(-2)!.data.type, 'generation_end');
    const g = await settled(h, gen, a.key);
    assert.equal(g.status, 'completed');
    assert.equal(g.result_metadata.finish_reason, 'stop');
    assert.equal(await h.balance(a.id), 9);
  });
});

describe('MemoryEventLog bounds', () => {
  it('keeps an ended log for the retention it was given (LUMENGATE_STREAM_RETAIN_S), then forgets it', async (t) => {
    assert.equal(settingsFromEnv({}).streamRetainMs, 300_000);
    assert.equal(settingsFromEnv({ LUMENGATE_STREAM_RETAIN_S: '30' }).streamRetainMs, 30_000);
    assert.equal(settingsFromEnv({ LUMENGATE_STREAM_LOG_MB: '8' }).streamLogBytes, 8 * 1024 * 1024);
    assert.throws(() => settingsFromEnv({ LUMENGATE_STREAM_RETAIN_S: '0' }), /LUMENGATE_STREAM_RETAIN_S/);
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const log = new MemoryEventLog({ retainMs: 30_000, maxTotalBytes: 1000 });
    log.append(1, 1, ['a', 'b'], true);
    t.mock.timers.tick(29_999);
    assert.deepEqual(await log.read(1, 1), { frames: ['b'], ended: true });
    t.mock.timers.tick(1);
    assert.equal(await log.read(1, 0), undefined, 'forgotten once the retention has passed');
    log.close();
  });

  it('keeps an ended log compact and reads it back frame by frame; each log expires its retention after it ended', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    // The log's clock, moved with the mocked timers.
    let clock = 0;
    const tick = (ms: number) => {
      clock += ms;
      t.mock.timers.tick(ms);
    };
    const log = new MemoryEventLog({ retainMs: 30_000, maxTotalBytes: 1000, now: () => clock });
    log.append(1, 1, ['id: 1:1\ndata: a\n\n', 'id: 1:2\ndata: bb\n\n'], false);
    log.append(1, 3, ['id: 1:3\ndata: ccc\n\n'], true);
    assert.deepEqual(await log.read(1, 0), { frames: ['id: 1:1\ndata: a\n\n', 'id: 1:2\ndata: bb\n\n', 'id: 1:3\ndata: ccc\n\n'], ended: true });
    assert.deepEqual(await log.read(1, 2), { frames: ['id: 1:3\ndata: ccc\n\n'], ended: true });
    assert.deepEqual(await log.read(1, 3), { frames: [], ended: true });
    log.append(1, 4, ['late'], true);
    assert.equal((await log.read(1, 0))?.frames.length, 3, 'nothing is appended after the end');
    tick(10_000);
    log.append(2, 1, ['b'], true);
    log.append(3, 1, ['c'], true); // ended in the same instant as 2
    tick(19_999);
    assert.ok(await log.read(1, 0), 'kept until its retention has passed');
    tick(1);
    assert.equal(await log.read(1, 0), undefined, 'forgotten 30 s after it ended');
    assert.deepEqual(await log.read(2, 0), { frames: ['b'], ended: true }, 'a log that ended 10 s later is still kept');
    tick(9_999);
    assert.ok(await log.read(3, 0));
    tick(1);
    assert.equal(await log.read(2, 0), undefined);
    assert.equal(await log.read(3, 0), undefined, 'both logs of one instant are forgotten together');
    log.close();
  });

  it('reads an ended log back exactly where its frames hold characters of more than one UTF-8 byte', async () => {
    const log = new MemoryEventLog({ retainMs: 30_000, maxTotalBytes: 1000 });
    const frames = ['id: 4:1\ndata: {"delta":"héllo"}\n\n', 'id: 4:2\ndata: {"delta":"狐 🦊"}\n\n', 'id: 4:3\ndata: {"delta":"\\ud83e"}\n\n', 'data: [DONE]\n\n'];
    log.append(4, 1, frames, true);
    for (let after = 0; after <= frames.length; after++) assert.deepEqual(await log.read(4, after), { frames: frames.slice(after), ended: true }, `after ${after}`);
    log.close();
  });

  it('keeps an ended log outside the V8 heap: 2,000 ended streams of 1.3 KB add under 0.5 KB of heap each (1.9 KB as strings)', async () => {
    const gc = runInNewContext('gc') as () => void;
    const heapUsed = () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const log = new MemoryEventLog({ retainMs: 60_000, maxTotalBytes: 64 * 1024 * 1024 });
    const N = 2000;
    // A soak stream's frames, made as the encoder makes them (fresh strings, not literals).
    const frames = (id: number) =>
      [
        JSON.stringify({ type: 'generation_start', id, model: 'soak-stream' }),
        ...Array.from({ length: 20 }, (_, i) => JSON.stringify({ type: 'content_delta', delta: `tok${i} ` })),
        JSON.stringify({ type: 'generation_end', id, tokens_spent: 1, tokens_used: 1, balance_remaining: 999999997 }),
      ].map((data, i) => `id: ${id}:${i + 1}\ndata: ${data}\n\n`);
    const before = heapUsed();
    for (let id = 1; id <= N; id++) {
      frames(id).forEach((f, i) => log.appendFrame(id, i + 1, f));
      log.append(id, 23, ['data: [DONE]\n\n'], true);
    }
    const perLog = (heapUsed() - before) / N;
    assert.equal((await log.read(N, 22))?.frames.at(-1), 'data: [DONE]\n\n');
    assert.ok(perLog < 512, `${perLog.toFixed(0)} bytes of V8 heap per ended log`);
    log.close();
  });

  it("ended logs reuse the arena's chunks: 10,000 logs expiring in order, 100 kept at a time, fill the same few Buffers", () => {
    const arena = new EndedArena(4096);
    const frames = (n: number) => [`id: ${n}:1\ndata: {"type":"content_delta","delta":"é${n}"}\n\n`, 'data: [DONE]\n\n'];
    const kept: Array<{ n: number; at: ReturnType<EndedArena['pack']> }> = [];
    const buffers = new Set<Buffer>();
    for (let n = 0; n < 10_000; n++) {
      const at = arena.pack(frames(n));
      buffers.add(at.chunk.buf);
      kept.push({ n, at });
      if (kept.length > 100) {
        const oldest = kept.shift()!;
        assert.deepEqual(arena.read(oldest.at.chunk, oldest.at.start, 0), frames(oldest.n));
        arena.release(oldest.at.chunk);
      }
    }
    // 100 logs of ~70 bytes fill two 4 KB chunks; one more is being filled, one is spare.
    assert.ok(buffers.size <= 4, `${buffers.size} chunks`);
    const big = arena.pack([`data: ${'x'.repeat(5000)}\n\n`]);
    assert.equal(arena.read(big.chunk, big.start, 0)[0]!.length, 5008, 'a log larger than a chunk gets its own');
  });

  it('evicts ended logs first, then refuses or drops the log that would overflow the total', async () => {
    const log = new MemoryEventLog({ retainMs: 60_000, maxTotalBytes: 100 });
    log.append(1, 1, ['x'.repeat(60)], true);
    log.append(2, 1, ['y'.repeat(60)], false);
    assert.equal(await log.read(1, 0), undefined, 'the ended log was evicted to make room');
    assert.deepEqual(await log.read(2, 0), { frames: ['y'.repeat(60)], ended: false });
    log.append(3, 1, ['z'.repeat(50)], false);
    assert.equal(await log.read(3, 0), undefined, 'no room: not kept');
    log.append(3, 2, ['z'], true);
    assert.equal(await log.read(3, 0), undefined, 'a log refused once stays refused');
    log.append(2, 2, ['y'.repeat(50)], false);
    assert.equal(await log.read(2, 0), undefined, 'a running log that would overflow the total is dropped');
    log.close();
  });

  it('the recorder hands the memory log each frame as it is recorded, and ends it in order', async () => {
    const log = new MemoryEventLog({ retainMs: 60_000, maxTotalBytes: 1000 });
    const r = new StreamRecorder(log, 7);
    assert.equal(r.nextId(), '7:1');
    r.record('id: 7:1\ndata: a\n\n');
    assert.deepEqual(await log.read(7, 0), { frames: ['id: 7:1\ndata: a\n\n'], ended: false }, 'kept before the tick ends');
    r.record('id: 7:2\ndata: b\n\n');
    r.end();
    assert.deepEqual(await log.read(7, 1), { frames: ['id: 7:2\ndata: b\n\n'], ended: true });
    log.close();
  });

  it('a log without appendFrame gets each tick of frames in one append, numbered from where the last left off', async () => {
    const appends: Array<[number, number, string[], boolean]> = [];
    const batching: EventLog = {
      append: (id, from, frames, ended) => void appends.push([id, from, [...frames], ended]),
      drop() {},
      read: () => Promise.resolve(undefined),
      watch: () => Promise.resolve(() => {}),
      close() {},
    };
    const r = new StreamRecorder(batching, 3);
    r.record('a');
    r.record('b');
    assert.equal(appends.length, 0, 'gathered until the tick ends');
    await new Promise<void>((resolve) => process.nextTick(resolve));
    r.record('c');
    r.end();
    await new Promise<void>((resolve) => process.nextTick(resolve));
    assert.deepEqual(appends, [
      [3, 1, ['a', 'b'], false],
      [3, 3, ['c'], true],
    ]);
  });

  it('a stream over the event cap is dropped from the log, whichever kind it is', async () => {
    const log = new MemoryEventLog({ retainMs: 60_000, maxTotalBytes: 10 * 1024 * 1024 });
    const r = new StreamRecorder(log, 9);
    for (let i = 0; i < MAX_EVENTS; i++) r.record('x');
    assert.equal((await log.read(9, 0))?.frames.length, MAX_EVENTS);
    r.record('one too many');
    r.end();
    assert.equal(await log.read(9, 0), undefined, 'no longer resumable');
    log.close();
  });
});
