// Named prepared statements on PostgreSQL for the statements every request runs (the caller read,
// the hold, the settlement): each pooled connection parses and plans one once, and every later
// call sends only Bind/Execute with the parameters instead of the statement's 1–3 KB of text
// (docs/BENCHMARKS.md: on the PostgreSQL + Redis path, writing those texts was the largest single
// item of the server's CPU profile, and PostgreSQL parsed and planned them on every request).
// They run on `Db.pgQuery`, not through Kysely. A statement's text starts with
// `/* prepared: <name> */` (its name in PostgreSQL's own views) and must never change for that
// name (pg refuses a name reused with another text). Everything else runs through Kysely as an
// unnamed statement.
import type { Db } from './connect.js';

const PREPARED = /^\/\* prepared: ([a-z_]+) \*\//;

/** A hot statement: its name and its text (which starts with the name's comment). */
export interface Statement {
  name: string | undefined;
  text: string;
}

/** A statement prepared under `name` (lowercase letters and `_`). */
export function prepared(name: string, sql: string): Statement {
  return { name, text: `/* prepared: ${name} */ ${sql}` };
}

/** A constant piece of SQL text inside a `preparedSql` template (not a parameter). */
export class SqlText {
  constructor(readonly text: string) {}
}

interface Compiled extends Statement {
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
  const site = compiledSites.get(strings) ?? compileSite(strings, values);
  const parameters = site.params.map((i) => values[i]);
  return { execute: (db) => runPrepared<Row>(db, site, parameters) };
}

/** A call site's statement: its values as $1…$n in order, `SqlText` inlined. */
function compileSite(strings: TemplateStringsArray, values: unknown[]): Compiled {
  let text = strings[0]!;
  const params: number[] = [];
  values.forEach((v, i) => {
    text += (v instanceof SqlText ? v.text : `$${params.push(i)}`) + strings[i + 1]!;
  });
  const site = { name: PREPARED.exec(text)?.[1], text, params };
  compiledSites.set(strings, site);
  return site;
}

/** One hot statement on PostgreSQL (`Db.pgQuery`): named when prepared statements are on. */
export function runPrepared<Row>(db: Db, statement: Statement, values: unknown[]): Promise<{ rows: Row[] }> {
  if (!db.pgQuery) throw new Error('prepared statements run on PostgreSQL only');
  return db.pgQuery(statement, values) as Promise<{ rows: Row[] }>;
}
