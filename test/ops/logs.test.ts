// JSON logs carry the request id (incoming x-request-id when sane).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { spawn } from 'node:child_process';
import { packageRoot, settingsFromEnv } from '../../src/config/env.js';
import { startServer } from '../../src/server.js';

describe('JSON logs', () => {
  it('every request log line is JSON with reqId = the x-request-id', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        cb();
      },
    });
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
      assert.ok(
        mine.some((e) => e.msg === 'incoming request'),
        JSON.stringify(entries),
      );
      assert.ok(mine.some((e) => e.msg === 'request completed' && (e.res as { statusCode: number }).statusCode === 200));
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('LOG_FORMAT', () => {
  // A real `lumengate serve` process: its first log lines tell the format apart.
  const firstLogLine = async (extraEnv: Record<string, string>): Promise<string> => {
    const dir = mkdtempSync(join(tmpdir(), 'lumengate-logfmt-'));
    const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'lumengate.js'), 'serve'], {
      env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`, OPENAI_API_KEY: 'sk-x', ...extraEnv },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      let out = '';
      for await (const chunk of child.stdout) {
        out += String(chunk);
        const line = out.split('\n').find((l) => l.includes('lumengate listening'));
        if (line) return line;
      }
      throw new Error(`the server exited without a listening line: ${out}`);
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('LOG_FORMAT=pretty prints human lines; without it (no TTY) each line is JSON', async () => {
    const pretty = await firstLogLine({ LOG_FORMAT: 'pretty' });
    assert.match(pretty, /INFO.*lumengate listening/);
    assert.throws(() => JSON.parse(pretty));
    const json = JSON.parse(await firstLogLine({}));
    assert.equal(json.msg, 'lumengate listening');
    assert.equal(json.level, 30);
  });
});
