// Kysely on better-sqlite3 without Kysely's own SQLite driver. That driver serialises every query
// through one connection mutex and runs statements synchronously: a statement waiting for another
// process's write lock would either block the event loop (busy_timeout) or, retried, hold the mutex
// and stall every other query. Here a statement runs in one synchronous call (atomic on the single
// connection, so no mutex is needed), and on SQLITE_BUSY it is retried from a timer (busy.ts) while
// other queries — WAL reads are never blocked by a writer — go on. Only an open transaction
// excludes the queries of other callers (they would otherwise run inside it); it begins IMMEDIATE,
// taking the write lock up front so it never fails to upgrade half-way.
//
// A LIMIT or OFFSET is never a bare `?` on SQLite. SQLite plans with the value bound to one and
// marks the statement as depending on it, so the statement is compiled again at every run (better-
// sqlite3 binds every parameter at every run): ~4 µs for a small query, ~200 µs for the job claim,
// ten times its own run (bench/NOTES.md, twenty-fifth session). `+?` is the same value but not a
// bare parameter: the statement is compiled once. Kysely's builders go through `LimitOnceCompiler`;
// SQL written out uses `limitValue`.
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  sql,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type LimitNode,
  type OffsetNode,
  type QueryResult,
  type RawBuilder,
} from 'kysely';
import type { Database, Statement } from 'better-sqlite3';
import { whenNotBusy } from './busy.js';
import type { Dialect as Engine } from './connect.js';

/** A LIMIT's (or OFFSET's) value in SQL written out: `+?` on SQLite (see the top of this file), a parameter on PostgreSQL. */
export const limitValue = (dialect: Engine, n: number): RawBuilder<unknown> => (dialect === 'sqlite' ? sql`+${n}` : sql`${n}`);

/** Kysely's SQLite compiler with `limit +?` and `offset +?` (see the top of this file). */
class LimitOnceCompiler extends SqliteQueryCompiler {
  protected override visitLimit(node: LimitNode): void {
    this.append('limit +');
    this.visitNode(node.limit);
  }

  protected override visitOffset(node: OffsetNode): void {
    this.append('offset +');
    this.visitNode(node.offset);
  }
}

function run<R>(stmt: Statement, parameters: readonly unknown[]): QueryResult<R> {
  if (stmt.reader) return { rows: stmt.all(parameters) as R[] };
  const { changes, lastInsertRowid } = stmt.run(parameters);
  return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
}

class BusyRetryingDriver implements Driver {
  /** The connection (one per acquisition) whose transaction is open, and when it ends. */
  private tx: { owner: DatabaseConnection; done: Promise<void>; end(): void } | null = null;

  constructor(
    private prepare: (sql: string) => Statement,
    private close: () => void,
  ) {}

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    const execute = async <R>(q: CompiledQuery): Promise<QueryResult<R>> => {
      while (this.tx && this.tx.owner !== connection) await this.tx.done;
      return whenNotBusy(() => run<R>(this.prepare(q.sql), q.parameters));
    };
    const connection: DatabaseConnection = {
      executeQuery: execute,
      async *streamQuery<R>(q: CompiledQuery) {
        yield await execute<R>(q);
      },
    };
    return connection;
  }

  async beginTransaction(connection: DatabaseConnection): Promise<void> {
    while (this.tx) await this.tx.done;
    let end!: () => void;
    const done = new Promise<void>((resolve) => {
      end = resolve;
    });
    this.tx = { owner: connection, done, end };
    try {
      await connection.executeQuery(CompiledQuery.raw('begin immediate'));
    } catch (err) {
      this.endTransaction();
      throw err;
    }
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
    this.endTransaction();
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    try {
      await connection.executeQuery(CompiledQuery.raw('rollback'));
    } finally {
      this.endTransaction();
    }
  }

  private endTransaction(): void {
    const tx = this.tx;
    this.tx = null;
    tx?.end();
  }

  async releaseConnection(): Promise<void> {}

  async destroy(): Promise<void> {
    this.close();
  }
}

export class BusyRetryingSqliteDialect implements Dialect {
  constructor(private db: Database) {}

  createDriver(): Driver {
    // Kysely prepares every query anew; the hot path repeats a handful of statements, so reuse them.
    const statements = new Map<string, Statement>();
    const prepare = (text: string) => {
      let st = statements.get(text);
      if (!st) {
        st = this.db.prepare(text);
        if (statements.size < 500) statements.set(text, st);
      }
      return st;
    };
    return new BusyRetryingDriver(prepare, () => this.db.close());
  }

  createQueryCompiler() {
    return new LimitOnceCompiler();
  }
  createAdapter() {
    return new SqliteAdapter();
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's Dialect interface takes Kysely<any>
  createIntrospector(db: Kysely<any>) {
    return new SqliteIntrospector(db);
  }
}
