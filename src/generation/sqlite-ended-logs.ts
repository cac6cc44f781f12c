// Ended re-attach logs in the SQLite file (table `stream_logs`, migration 015): the embedded
// default keeps the minutes of ended streams a re-attach may ask for on disk rather than in the
// process, so its memory does not grow as the retention fills (bench/NOTES.md, twenty-eighth
// session), and any worker of `serve --workers`, or the process after a restart, can replay an
// ended stream. A running stream's log stays in the memory of the process serving it
// (event-log.ts). Each log is one row: its frames packed as event-log.ts's `packLog` writes them.
// Writes join the ledger's group commit (billing/sqlite-ledger.ts): the logs of streams that end
// together cost one commit, shared with their settlements.
import type { Database, Statement } from 'better-sqlite3';
import { commitSqlite } from '../billing/sqlite-ledger.js';
import { packLog, readPacked, type EndedLogStore } from './event-log.js';

/** How often rows past their retention are deleted (reads never return one, whenever it is deleted). */
export const SWEEP_MS = 5_000;

export class SqliteEndedLogs implements EndedLogStore {
  private insert: Statement<[number, string, Buffer]>;
  private select: Statement<[number, string], { frames: Buffer }>;
  private expire: Statement<[string]>;
  private timer: NodeJS.Timeout;
  /** Writes not yet committed (`idle`). */
  private pending = new Set<Promise<unknown>>();

  /** `now`: the wall clock in ms (a row outlives the process, so its time is the wall clock's). */
  constructor(
    private db: Database,
    private retainMs: number,
    private onError: (err: unknown) => void,
    private now: () => number = Date.now,
  ) {
    this.insert = db.prepare('insert or replace into stream_logs (generation_id, ended_at, frames) values (?, ?, ?)');
    this.select = db.prepare('select frames from stream_logs where generation_id = ? and ended_at >= ?');
    this.expire = db.prepare('delete from stream_logs where ended_at < ?');
    this.timer = setInterval(() => void this.sweep().catch((err: unknown) => this.onError(new Error('deleting expired stream logs failed', { cause: err }))), SWEEP_MS);
    this.timer.unref();
  }

  put(id: number, frames: readonly string[]): Promise<void> {
    const row = packLog(frames);
    const endedAt = new Date(this.now()).toISOString();
    return this.track(
      commitSqlite(this.db, () => {
        this.insert.run(id, endedAt, row);
      }),
    );
  }

  get(id: number, after: number): string[] | undefined {
    const row = this.select.get(id, this.cutoff());
    return row && readPacked(row.frames, 0, after);
  }

  /** Deletes the logs past their retention; resolves to how many. */
  sweep(): Promise<number> {
    const cutoff = this.cutoff();
    return this.track(commitSqlite(this.db, () => this.expire.run(cutoff).changes));
  }

  private track<T>(write: Promise<T>): Promise<T> {
    this.pending.add(write);
    const done = () => this.pending.delete(write);
    write.then(done, done);
    return write;
  }

  /** Resolves once the writes made so far have ended (before the database closes). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }

  private cutoff(): string {
    return new Date(this.now() - this.retainMs).toISOString();
  }

  close(): void {
    clearInterval(this.timer);
  }
}
