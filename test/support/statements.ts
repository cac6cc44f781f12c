// The statements a store function runs through Kysely, as a test sees them: a Db whose Kysely
// records each statement before running it, its text for a sql`…` template (spaces collapsed,
// parameters as ?) and its kind for a query builder's (SelectQueryNode, …). Transactions' begin
// and commit, and Db.sqlite's and Db.pgQuery's statements, are not seen.
import type { KyselyPlugin } from 'kysely';
import type { Db } from '../../src/db/connect.js';

export function recordingStatements(db: Db): { db: Db; statements: string[] } {
  const statements: string[] = [];
  const plugin: KyselyPlugin = {
    transformQuery({ node }) {
      statements.push(node.kind === 'RawNode' ? node.sqlFragments.join('?').replace(/\s+/g, ' ').trim() : node.kind);
      return node;
    },
    transformResult: async ({ result }) => result,
  };
  return { db: { ...db, kysely: db.kysely.withPlugin(plugin) }, statements };
}
