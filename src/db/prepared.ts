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
import type { Db } from './connect.js';

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

/** A constant piece of SQL text inside a `preparedSql` template (not a parameter). */
export class SqlText {
  constructor(readonly text: string) {}
}

interface Compiled {
  /** The statement's name, from its leading `/* prepared: name *\/`. */
  name: string | undefined;
  text: string;
  /** For each `$n`, the index of its template value. */
  params: number[];
}
const compiledSites = new WeakMap<TemplateStringsArray, Compiled>();

/**
 * The hot statements' template (`` preparedSql`/* prepared: name *\/ … ${value} …` ``): its `$n`
 * text is put together once per call site, and a call only collects its values and sends them
 * on a pooled connection (`Db.pgQuery`). Kysely's `sql` template built, froze and compiled a node
 * per value on every call, about twenty per request for the hold and the settlement, and its
 * executor added a connection provider and our pool wrapper per statement (bench/NOTES.md, sixth
 * session). Every value is a parameter, numbered in order as Kysely numbers them (the text is
 * the same as before, so each stays the same prepared statement), except `SqlText`, whose text is
 * inlined: it must be the same at every call of the site. PostgreSQL only.
 */
export function preparedSql<Row>(strings: TemplateStringsArray, ...values: unknown[]): { execute(db: Db): Promise<{ rows: Row[] }> } {
  let site = compiledSites.get(strings);
  if (!site) {
    let text = strings[0]!;
    const params: number[] = [];
    values.forEach((v, i) => {
      text += (v instanceof SqlText ? v.text : `$${params.push(i)}`) + strings[i + 1]!;
    });
    site = { name: PREPARED.exec(text)?.[1], text, params };
    compiledSites.set(strings, site);
  }
  const { name, text, params } = site;
  return {
    execute: (db) =>
      runPrepared<Row>(
        db,
        name,
        text,
        params.map((i) => values[i]),
      ),
  };
}

/** One hot statement on PostgreSQL (`Db.pgQuery`): named `name` when prepared statements are on. */
export function runPrepared<Row>(db: Db, name: string | undefined, text: string, values: unknown[]): Promise<{ rows: Row[] }> {
  if (!db.pgQuery) throw new Error('prepared statements run on PostgreSQL only');
  return db.pgQuery(name, text, values) as Promise<{ rows: Row[] }>;
}
