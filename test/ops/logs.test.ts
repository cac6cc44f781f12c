// JSON logs carry the request id (incoming x-request-id when sane).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { settingsFromEnv } from '../../src/config/env.js';
import { startServer } from '../../src/server.js';

describe('JSON logs', () => {
  it('every request log line is JSON with reqId = the x-request-id', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _enc, cb) { lines.push(...String(chunk).split('\n').filter(Boolean)); cb(); } });
    const dir = mkdtempSync(join(tmpdir(), 'lumengate-logs-'));
    const server = await startServer({
      settings: settingsFromEnv({ HOST: '127.0.0.1', PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}` }),
      logger: pino({ level: 'info' }, sink),
    });
    try {
      const res = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'log-test-42' } });
      assert.equal(res.status, 200);
      await new Promise((r) => setImmediate(r));
      const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const mine = entries.filter((e) => e.reqId === 'log-test-42');
      assert.ok(mine.some((e) => e.msg === 'incoming request'), JSON.stringify(entries));
      assert.ok(mine.some((e) => e.msg === 'request completed' && (e.res as { statusCode: number }).statusCode === 200));
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
