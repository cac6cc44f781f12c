// Named prepared statements on PostgreSQL for the statements every request runs (the caller read,
// the hold, the settlement): each pooled connection parses and plans one once, and every later
// call sends only Bind/Execute with the parameters instead of the statement's 1–3 KB of text
// (docs/BENCHMARKS.md: on the PostgreSQL + Redis path, writing those texts was the largest single
// item of the server's CPU profile, and PostgreSQL parsed and planned them on every request).
// A statement opts in with a leading comment, `/* prepared: <name> */ …`; its text must never
// change for that name (pg refuses a name reused with another text). Everything else runs as an
// unnamed statement, as before.
import type { Pool, PoolClient } from 'pg';
import type { PostgresPool, PostgresPoolClient } from 'kysely';

const PREPARED = /^\/\* prepared: ([a-z_]+) \*\//;

/** Marks a statement's SQL text for preparing under `name` (lowercase letters and `_`). */
export function prepared(name: string, sql: string): string {
  return `/* prepared: ${name} */ ${sql}`;
}

/** The pool Kysely's PostgresDialect uses: pg's, with marked statements sent as named ones. */
export function preparingPool(pool: Pool): PostgresPool {
  return {
    async connect(): Promise<PostgresPoolClient> {
      const client: PoolClient = await pool.connect();
      const query = (sql: unknown, parameters?: ReadonlyArray<unknown>) => {
        const name = typeof sql === 'string' ? PREPARED.exec(sql)?.[1] : undefined;
        return name ? client.query({ name, text: sql as string, values: [...(parameters ?? [])] }) : client.query(sql as string, parameters ? [...parameters] : undefined);
      };
      return { query, release: (destroy?: boolean) => client.release(destroy) } as unknown as PostgresPoolClient;
    },
    end: () => pool.end(),
  };
}
