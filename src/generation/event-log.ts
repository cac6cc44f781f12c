// The per-generation log of SSE frames that lets a client re-attach to a stream (docs/api.md).
// Frames are kept until RETAIN_MS after the generation ends: in this process's memory, or in
// Redis when REDIS_URL is set so that any instance can serve a re-attach. One backend is chosen
// at start. Memory is bounded: the recorder drops a generation's log once it grows past the
// per-generation caps (that stream is then not resumable), and the memory backend evicts ended
// logs, oldest first, when its total is full, and otherwise drops the log that would overflow it.
import type { Redis } from 'ioredis';

export const RETAIN_MS = 5 * 60_000;
/** Per generation: a stream longer than this is not resumable (the live stream is unaffected). */
export const MAX_EVENTS = 8192;
export const MAX_BYTES = 2 * 1024 * 1024;
/** All generations together, memory backend. */
export const MAX_TOTAL_BYTES = 64 * 1024 * 1024;

/** What a reader gets after the sequence number it has: the frames that follow, and whether the log is complete. */
export interface Snapshot {
  frames: string[];
  ended: boolean;
}

export interface EventLog {
  /** Frames `seq = from, from+1, …` in order; `ended` marks the last append of the generation. */
  append(id: number, from: number, frames: string[], ended: boolean): void;
  /**
   * Frame `seq` alone, for a log that stores each frame as it comes (memory). Without it the
   * recorder gathers a tick's frames into one `append` (Redis: one round trip for them).
   */
  appendFrame?(id: number, seq: number, frame: string): void;
  /** Forgets a generation's log (over its caps): re-attaching is refused from now on. */
  drop(id: number): void;
  /** The frames after sequence `after`, or undefined when no log is kept for this generation. */
  read(id: number, after: number): Promise<Snapshot | undefined>;
  /** Calls `changed` when the generation's log grows or ends; resolves, once listening, to the unsubscribe. */
  watch(id: number, changed: () => void): Promise<() => void>;
  close(): void;
}

/**
 * The producer side: numbers the frames of one stream, applies the caps, and hands each frame to
 * the log: at once where the log takes one frame at a time, else each tick's frames in one append.
 */
export class StreamRecorder {
  private seq = 0;
  private bytes = 0;
  private batch: string[] = [];
  private from = 1;
  private ended = false;
  private dropped = false;
  private scheduled = false;

  constructor(
    private log: EventLog,
    readonly id: number,
  ) {}

  /** The id of the next frame (`<generation id>:<sequence>`), counted whether or not it is kept. */
  nextId(): string {
    return `${this.id}:${this.seq + 1}`;
  }

  record(frame: string): void {
    this.seq++;
    if (this.dropped) return;
    this.bytes += frame.length;
    if (this.seq > MAX_EVENTS || this.bytes > MAX_BYTES) {
      this.dropped = true;
      this.batch = [];
      this.log.drop(this.id);
      return;
    }
    if (this.log.appendFrame) {
      // Nothing to gather: no per-event tick, closure or batch array (bench/NOTES.md, sixteenth session).
      this.log.appendFrame(this.id, this.seq, frame);
      this.from = this.seq + 1;
      return;
    }
    this.batch.push(frame);
    this.schedule();
  }

  end(): void {
    this.ended = true;
    if (this.dropped) return;
    if (this.log.appendFrame) this.log.append(this.id, this.from, [], true);
    else this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    process.nextTick(() => {
      this.scheduled = false;
      if (this.dropped) return;
      this.log.append(this.id, this.from, this.batch, this.ended);
      this.from += this.batch.length;
      this.batch = [];
    });
  }
}

interface Entry {
  /** The frames of a running log; none once ended (they are then in `chunk`). */
  frames: string[];
  bytes: number;
  ended: boolean;
  /**
   * An ended log, packed into the ended logs' arena (`EndedArena`) at `start`: kept for minutes and
   * only read, so its frames leave the V8 heap, where each log's string pinned an old-space page
   * for its whole retention (docs/deploy.md "Memory").
   */
  chunk?: Chunk;
  start: number;
}

/** An ended log's `frames`: nothing is appended after the end, so all of them can share one. */
const NO_FRAMES: readonly string[] = Object.freeze([]);

/** One of the arena's Buffers: bytes written so far, and how many logs in it are still kept. */
interface Chunk {
  buf: Buffer;
  used: number;
  live: number;
}

/** The bytes of `frames` packed: their count, where each ends (u32 little-endian), their UTF-8 text. */
function packedSize(frames: readonly string[]): number {
  let size = 4 + 4 * frames.length;
  for (const f of frames) size += Buffer.byteLength(f);
  return size;
}

/** Packs `frames` into `buf` at `start`; returns where the packed log ends. */
function writePacked(buf: Buffer, start: number, frames: readonly string[]): number {
  const head = 4 + 4 * frames.length;
  buf.writeUInt32LE(frames.length, start);
  let at = start + head;
  for (let i = 0; i < frames.length; i++) {
    at += buf.write(frames[i]!, at);
    buf.writeUInt32LE(at - start - head, start + 4 + 4 * i);
  }
  return at;
}

/** Packs `frames` into a Buffer of their own (a row of the SQLite ended logs: sqlite-ended-logs.ts). */
export function packLog(frames: readonly string[]): Buffer {
  const buf = Buffer.allocUnsafe(packedSize(frames));
  writePacked(buf, 0, frames);
  return buf;
}

/** The frames of the log packed in `buf` at `start`, after the first `after`. */
export function readPacked(buf: Buffer, start: number, after: number): string[] {
  const count = buf.readUInt32LE(start);
  const text = start + 4 + 4 * count;
  const frames: string[] = [];
  for (let i = Math.max(0, after); i < count; i++) {
    const from = i === 0 ? 0 : buf.readUInt32LE(start + 4 * i);
    frames.push(buf.toString('utf8', text + from, text + buf.readUInt32LE(start + 4 + 4 * i)));
  }
  return frames;
}

/**
 * Where ended logs are kept: a few large Buffers, each filled in turn in the order logs end, which
 * is the order they expire in. A chunk whose logs are all gone is used again (one is kept spare),
 * so after the retention has filled, ended logs take the same memory however long the server runs,
 * outside the V8 heap and without a small allocation per log for malloc to scatter (packing each
 * log in a Buffer of its own from Node's shared pool left slabs half full of other buffers: bench/NOTES.md).
 *
 * A log is packed as `writePacked` writes it. Frames are JSON-encoded SSE, never lone surrogates,
 * so the UTF-8 round trip is exact.
 */
export class EndedArena {
  private current: Chunk | undefined;
  private spare: Chunk | undefined;

  constructor(private chunkBytes = 256 * 1024) {}

  /** Packs `frames`; the log is kept until `release(chunk)`. */
  pack(frames: readonly string[]): { chunk: Chunk; start: number } {
    const size = packedSize(frames);
    let chunk = this.current;
    if (!chunk || chunk.used + size > chunk.buf.length) {
      if (chunk && chunk.live === 0) this.recycle(chunk);
      // A log larger than a chunk gets a Buffer of its own, freed by the collector once it is gone.
      chunk = size > this.chunkBytes ? { buf: Buffer.allocUnsafeSlow(size), used: 0, live: 0 } : this.takeSpare();
      this.current = chunk;
    }
    const start = chunk.used;
    chunk.used = writePacked(chunk.buf, start, frames);
    chunk.live++;
    return { chunk, start };
  }

  /** The frames of the log at `start` after the first `after`. */
  read(chunk: Chunk, start: number, after: number): string[] {
    return readPacked(chunk.buf, start, after);
  }

  /** One log in `chunk` is gone. */
  release(chunk: Chunk): void {
    if (--chunk.live === 0 && chunk !== this.current) this.recycle(chunk);
  }

  private recycle(chunk: Chunk): void {
    if (chunk.buf.length !== this.chunkBytes) return;
    chunk.used = 0;
    this.spare = chunk;
  }

  private takeSpare(): Chunk {
    const spare = this.spare;
    this.spare = undefined;
    return spare ?? { buf: Buffer.allocUnsafeSlow(this.chunkBytes), used: 0, live: 0 };
  }
}

/**
 * Where a `MemoryEventLog` keeps its ended logs instead of its own arena: the SQLite file
 * (sqlite-ended-logs.ts), so that minutes of ended streams take no memory of the process, a
 * re-attach to an ended stream is served by any worker of `serve --workers` and after a restart.
 */
export interface EndedLogStore {
  /** Keeps an ended log for the retention; resolves once it can be read (rejects when it was not kept). */
  put(id: number, frames: readonly string[]): Promise<void>;
  /** The frames after the first `after` of a kept ended log; undefined when none is kept. */
  get(id: number, after: number): string[] | undefined;
  close(): void;
}

export class MemoryEventLog implements EventLog {
  private entries = new Map<number, Entry>();
  private watchers = new Map<number, Set<() => void>>();
  private total = 0;
  private arena = new EndedArena();
  /**
   * Ended logs in the order they ended (`expiringIds`), and when each ended (`expiringAt`, same
   * index). The retention is the same for all, so this is also the order they expire in: one
   * timer, for the oldest, instead of a timer per log. Two arrays of numbers, not an object per log.
   */
  private expiringIds: number[] = [];
  private expiringAt: number[] = [];
  private expiringHead = 0;
  private timer: NodeJS.Timeout | undefined;

  /**
   * `now`: a monotonic clock in ms (tests give their own). `ended`: where ended logs go (else this
   * process's arena); one it fails to keep stays in the arena, `onStoreError` told why.
   */
  constructor(
    private limits: {
      retainMs: number;
      maxTotalBytes: number;
      now?: () => number;
      ended?: EndedLogStore;
      onStoreError?: (err: unknown) => void;
    } = { retainMs: RETAIN_MS, maxTotalBytes: MAX_TOTAL_BYTES },
  ) {}

  appendFrame(id: number, seq: number, frame: string): void {
    const e = this.entryFor(id, seq, frame.length);
    if (!e) return;
    e.frames.push(frame);
    e.bytes += frame.length;
    this.total += frame.length;
    this.notify(id);
  }

  append(id: number, from: number, frames: string[], ended: boolean): void {
    let bytes = 0;
    for (const f of frames) bytes += f.length;
    const e = this.entryFor(id, from, bytes);
    if (!e) return;
    for (const f of frames) e.frames.push(f);
    e.bytes += bytes;
    this.total += bytes;
    if (ended) {
      e.ended = true;
      const store = this.limits.ended;
      if (store) {
        // Read from here until the store has it, then from the store.
        store.put(id, e.frames).then(
          () => this.forget(id, e),
          (err: unknown) => {
            this.limits.onStoreError?.(err);
            if (this.entries.get(id) === e) this.keepInArena(id, e);
          },
        );
      } else this.keepInArena(id, e);
    }
    this.notify(id);
  }

  /** An ended log is kept in the arena until its retention has passed. */
  private keepInArena(id: number, e: Entry): void {
    const { chunk, start } = this.arena.pack(e.frames);
    e.chunk = chunk;
    e.start = start;
    e.frames = NO_FRAMES as string[];
    this.expiringIds.push(id);
    this.expiringAt.push((this.limits.now ?? performance.now.bind(performance))());
    if (!this.timer) this.scheduleExpiry();
  }

  /** An ended log the store now keeps leaves this process (nothing changed for its readers). */
  private forget(id: number, e: Entry): void {
    if (this.entries.get(id) !== e) return;
    this.total -= e.bytes;
    this.entries.delete(id);
  }

  /**
   * Waits for the oldest ended log's time, drops it with every log stamped no later (ended in the
   * same instant), and waits for the next. Delays are differences of `performance.now()` stamps, so
   * a wall-clock step changes nothing; a late timer delays the rest by as much (a log is kept at
   * least its retention).
   */
  private scheduleExpiry(delay = this.limits.retainMs): void {
    this.timer = setTimeout(() => {
      const headAt = this.expiringAt[this.expiringHead]!;
      this.drop(this.expiringIds[this.expiringHead++]!);
      while (this.expiringHead < this.expiringIds.length && this.expiringAt[this.expiringHead]! <= headAt) this.drop(this.expiringIds[this.expiringHead++]!);
      if (this.expiringHead === this.expiringIds.length) {
        this.expiringIds = [];
        this.expiringAt = [];
        this.expiringHead = 0;
        this.timer = undefined;
        return;
      }
      const nextAt = this.expiringAt[this.expiringHead]!;
      // Let go of the consumed part of the queue once it is most of it.
      if (this.expiringHead > 1024 && this.expiringHead * 2 > this.expiringIds.length) {
        this.expiringIds = this.expiringIds.slice(this.expiringHead);
        this.expiringAt = this.expiringAt.slice(this.expiringHead);
        this.expiringHead = 0;
      }
      this.scheduleExpiry(nextAt - headAt);
    }, delay);
    this.timer.unref();
  }

  /** The running log that frames from `from` on, `bytes` long, go to; undefined when they are not kept. */
  private entryFor(id: number, from: number, bytes: number): Entry | undefined {
    const e = this.entries.get(id);
    // A log that starts mid-stream was dropped or refused before: keep it that way.
    if (!e && from !== 1) return undefined;
    if (e?.ended) return undefined; // nothing follows the end
    if (!this.makeRoom(bytes)) {
      // Full of running streams: this one is not resumable (its live stream goes on).
      if (e) this.drop(id);
      return undefined;
    }
    if (e) return e;
    const created: Entry = { frames: [], bytes: 0, ended: false, start: 0 };
    this.entries.set(id, created);
    return created;
  }

  /** Evicts ended logs, oldest first, until `bytes` more fit; false when running ones fill it. */
  private makeRoom(bytes: number): boolean {
    if (this.total + bytes <= this.limits.maxTotalBytes) return true;
    for (const [id, e] of this.entries) {
      if (this.total + bytes <= this.limits.maxTotalBytes) break;
      if (e.ended) this.drop(id);
    }
    return this.total + bytes <= this.limits.maxTotalBytes;
  }

  drop(id: number): void {
    const e = this.entries.get(id);
    if (!e) return;
    this.total -= e.bytes;
    this.entries.delete(id);
    if (e.chunk) this.arena.release(e.chunk);
    this.notify(id);
  }

  async read(id: number, after: number): Promise<Snapshot | undefined> {
    const e = this.entries.get(id);
    if (!e) {
      const frames = this.limits.ended?.get(id, after);
      return frames && { frames, ended: true };
    }
    if (!e.chunk) return { frames: e.frames.slice(after), ended: e.ended };
    return { frames: this.arena.read(e.chunk, e.start, after), ended: true };
  }

  async watch(id: number, changed: () => void): Promise<() => void> {
    let set = this.watchers.get(id);
    if (!set) this.watchers.set(id, (set = new Set()));
    set.add(changed);
    return () => {
      set.delete(changed);
      if (set.size === 0) this.watchers.delete(id);
    };
  }

  private notify(id: number): void {
    const set = this.watchers.get(id);
    if (set) for (const w of set) w();
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.expiringIds = [];
    this.expiringAt = [];
    this.expiringHead = 0;
    for (const id of [...this.entries.keys()]) this.drop(id);
    this.limits.ended?.close();
  }
}

/** The last list element of an ended log (a frame is never empty). */
const END = '';

/**
 * An append: RPUSH the frames, PEXPIRE the list, PUBLISH that it changed, atomically. A script, not
 * MULTI: ioredis builds a pipeline object per MULTI, and a loop of them promoted ~5 KB per call to
 * the old generation against ~90 bytes for a script (bench/NOTES.md, ninth session). ioredis sends
 * the script itself (EVAL) first on each connection, EVALSHA after, so a restarted Redis (a new
 * connection) never answers NOSCRIPT. Only a SCRIPT FLUSH on a live connection does: ioredis then
 * resends the refused appends as EVAL, and an append made while they were refused could land
 * before them in that stream's re-attach log (the live stream is not affected).
 * KEYS[1] the list; ARGV: the retention in ms, the channel, the frames (pushed 1,000 at a time: Lua's
 * unpack has a limit).
 */
const APPEND_LUA = `
for i = 3, #ARGV, 1000 do
  redis.call('rpush', KEYS[1], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('pexpire', KEYS[1], ARGV[1])
redis.call('publish', ARGV[2], '')
`;
interface WithAppend extends Redis {
  lumengateStreamAppend(key: string, retainMs: number, channel: string, ...frames: string[]): Promise<unknown>;
}

/**
 * One Redis list per generation (`<prefix>:stream:<id>`, frame `seq` at index seq-1, END last),
 * expiring RETAIN_MS after its last append; a pub/sub message on `<prefix>:stream-changed:<id>`
 * tells readers on any instance to read on.
 */
export class RedisEventLog implements EventLog {
  private sub: Redis;
  private watchers = new Map<string, { set: Set<() => void>; subscribed: Promise<unknown> }>();

  constructor(
    private redis: Redis,
    private prefix: string,
    private onError: (err: unknown) => void,
    private retainMs = RETAIN_MS,
  ) {
    redis.defineCommand('lumengateStreamAppend', { numberOfKeys: 1, lua: APPEND_LUA });
    // A subscribed connection takes no other commands: a second one, queueing until it is ready.
    this.sub = redis.duplicate({ enableOfflineQueue: true });
    this.sub.on('error', onError);
    this.sub.on('message', (channel: string) => {
      for (const w of this.watchers.get(channel)?.set ?? []) w();
    });
  }

  private key = (id: number) => `${this.prefix}:stream:${id}`;
  private channel = (id: number) => `${this.prefix}:stream-changed:${id}`;

  append(id: number, _from: number, frames: string[], ended: boolean): void {
    const items = ended ? [...frames, END] : frames;
    if (items.length === 0) return;
    // Fire and forget in order on one connection: the live stream never waits for Redis.
    (this.redis as WithAppend).lumengateStreamAppend(this.key(id), this.retainMs, this.channel(id), ...items).catch(this.onError);
  }

  drop(id: number): void {
    this.redis.multi().del(this.key(id)).publish(this.channel(id), '').exec().catch(this.onError);
  }

  async read(id: number, after: number): Promise<Snapshot | undefined> {
    const [[err, length], [err2, items]] = (await this.redis.multi().llen(this.key(id)).lrange(this.key(id), after, -1).exec())! as [[Error | null, number], [Error | null, string[]]];
    if (err || err2) throw (err ?? err2)!;
    if (length === 0) return undefined;
    const ended = items.at(-1) === END;
    return { frames: ended ? items.slice(0, -1) : items, ended };
  }

  async watch(id: number, changed: () => void): Promise<() => void> {
    const channel = this.channel(id);
    let w = this.watchers.get(channel);
    if (!w) this.watchers.set(channel, (w = { set: new Set(), subscribed: this.sub.subscribe(channel) }));
    const entry = w;
    entry.set.add(changed);
    const unwatch = () => {
      entry.set.delete(changed);
      if (entry.set.size === 0 && this.watchers.get(channel) === entry) {
        this.watchers.delete(channel);
        this.sub.unsubscribe(channel).catch(this.onError);
      }
    };
    try {
      // Messages published before the subscription is live would be missed: the reader reads after this.
      await entry.subscribed;
    } catch (err) {
      unwatch();
      throw err;
    }
    return unwatch;
  }

  close(): void {
    this.sub.disconnect();
  }
}
