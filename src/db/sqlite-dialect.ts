// Kysely on better-sqlite3 without Kysely's own SQLite driver. That driver serialises every query
// through one connection mutex and runs statements synchronously: a statement waiting for another
// process's write lock would either block the event loop (busy_timeout) or, retried, hold the mutex
// and stall every other query. Here a statement runs in one synchronous call (atomic on the single
// connection, so no mutex is needed), and on SQLITE_BUSY it is retried from a timer (busy.ts) while
// other queries — WAL reads are never blocked by a writer — go on. Only an open transaction
// excludes the queries of other callers (they would otherwise run inside it); it begins IMMEDIATE,
// taking the write lock up front so it never fails to upgrade half-way.
import { CompiledQuery, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler, type DatabaseConnection, type Dialect, type Driver, type Kysely, type QueryResult } from 'kysely';
import type { Database, Statement } from 'better-sqlite3';
import { whenNotBusy } from './busy.js';

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
    return new SqliteQueryCompiler();
  }
  createAdapter() {
    return new SqliteAdapter();
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- Kysely's Dialect interface takes Kysely<any>
  createIntrospector(db: Kysely<any>) {
    return new SqliteIntrospector(db);
  }
}
