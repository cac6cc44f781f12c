// Batching of the hot statements on PostgreSQL (docs/architecture.md "Money"): the caller read, the
// hold and the settlement. At most IN_FLIGHT statements of one kind run at once per database; the
// calls that arrive meanwhile wait for one to return and then leave together in one statement. A
// lone call never waits: it goes at once, as the single statement. Under load this divides
// PostgreSQL's cost per statement and per commit, and the turns of a hot account row's lock, by the
// batch size (bench/NOTES.md).
import type { Db } from './connect.js';

/**
 * Statements of one kind in flight per database; the rest queue and leave together. One, not two:
 * the batches are then about twice as large, and PostgreSQL's work per statement (its commit, its
 * plan's start, the turns of a hot account row's lock) is shared by twice as many requests. wrk at
 * 64 connections on PostgreSQL + Redis, alternating: PostgreSQL's CPU per request 163-212 us against
 * 232-358 with two, the server's 321-418 against 371-479, 1,986-2,149 req/s against 1,719-1,898; at
 * 16 connections 1,000-1,144 against 588-886 req/s; at 4, no difference (bench/NOTES.md, twelfth
 * session). A lone call still goes at once.
 */
export const IN_FLIGHT = 1;
/** Calls in one statement at most. */
export const MAX_BATCH = 64;

export interface BatchKind<Req, Res> {
  /** The single statement: a lone call, and any call the batch did not answer. */
  single(db: Db, req: Req): Promise<Res>;
  /** One statement for several calls; an index missing from the result is asked again alone. */
  batch(db: Db, reqs: Req[]): Promise<Map<number, Res>>;
}

interface Queued<Req, Res> {
  req: Req;
  resolve(res: Res): void;
  reject(err: unknown): void;
}

class Batcher<Req, Res> {
  private queue: Queued<Req, Res>[] = [];
  private inFlight = 0;

  constructor(
    private db: Db,
    private kind: BatchKind<Req, Res>,
  ) {}

  call(req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    while (this.inFlight < IN_FLIGHT && this.queue.length > 0) {
      const batch = this.queue.splice(0, MAX_BATCH);
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.pump();
      });
    }
  }

  private async run(batch: Queued<Req, Res>[]): Promise<void> {
    if (batch.length === 1) {
      const [only] = batch as [Queued<Req, Res>];
      await this.kind.single(this.db, only.req).then(only.resolve, only.reject);
      return;
    }
    let answered: Map<number, Res>;
    try {
      answered = await this.kind.batch(
        this.db,
        batch.map((q) => q.req),
      );
    } catch (err) {
      if (!refusedByServer(err)) {
        // The connection failed: whether the statement committed is unknown, so no call is
        // repeated; each caller gets the error, as a single call's would.
        for (const q of batch) q.reject(err);
        return;
      }
      // PostgreSQL refused the statement, so nothing of it committed. One call's values may be
      // what it refused: each call is asked again alone, so no caller fails for another's input.
      answered = new Map();
    }
    const alone: Promise<void>[] = [];
    for (const [i, q] of batch.entries()) {
      if (answered.has(i)) q.resolve(answered.get(i)!);
      else alone.push(this.kind.single(this.db, q.req).then(q.resolve, q.reject));
    }
    await Promise.all(alone);
  }
}

/** An error answered by PostgreSQL for the statement (SQLSTATE and severity), not a failed connection. */
function refusedByServer(err: unknown): boolean {
  if (!(err instanceof Error) || !('severity' in err)) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code);
}

/** Per database, one batcher per kind of statement. */
const batchers = new WeakMap<Db, Map<object, unknown>>();

/** `kind.single(db, req)`, batched with the calls of the same kind that arrive while others are in flight. */
export function batched<Req, Res>(db: Db, kind: BatchKind<Req, Res>, req: Req): Promise<Res> {
  let byKind = batchers.get(db);
  if (!byKind) {
    byKind = new Map();
    batchers.set(db, byKind);
  }
  let batcher = byKind.get(kind) as Batcher<Req, Res> | undefined;
  if (!batcher) {
    batcher = new Batcher(db, kind);
    byKind.set(kind, batcher);
  }
  return batcher.call(req);
}
