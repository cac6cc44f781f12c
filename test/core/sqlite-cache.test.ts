// SQLite's page cache per connection (src/db/connect.ts, docs/deploy.md "Memory"): SQLite's own
// 2 MB by default rather than the 16 MB better-sqlite3 builds in, and LUMENGATE_SQLITE_CACHE_MB
// for an operator who wants more. Read back from the server's own connection. SQLite only.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { settingsFromEnv } from '../../src/config/env.js';
import { startHarness } from '../support/harness.js';

const onPostgres = process.env.TEST_DATABASE_URL?.startsWith('postgres') === true;

describe('SQLite page cache', { skip: onPostgres ? 'SQLite only' : false }, () => {
  const cacheOf = async (env: Record<string, string>): Promise<unknown> => {
    const h = await startHarness({ env });
    try {
      return h.server.db.sqlite!.pragma('cache_size', { simple: true });
    } finally {
      await h.close();
    }
  };

  it('is 2 MB unless LUMENGATE_SQLITE_CACHE_MB says otherwise (a negative cache_size is KiB)', async () => {
    assert.equal(await cacheOf({}), -2048);
    assert.equal(await cacheOf({ LUMENGATE_SQLITE_CACHE_MB: '16' }), -16384);
    assert.throws(() => settingsFromEnv({ LUMENGATE_SQLITE_CACHE_MB: '0' }), /LUMENGATE_SQLITE_CACHE_MB/);
  });
});
