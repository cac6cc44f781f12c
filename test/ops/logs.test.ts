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
import { LineLog } from '../support/waits.js';

describe('JSON logs', () => {
  it('every request log line is JSON with reqId = the x-request-id', async () => {
    const lines: string[] = [];
    const written = new LineLog();
    const sink = new Writable({
      write(chunk, _enc, cb) {
        lines.push(...String(chunk).split('\n').filter(Boolean));
        written.add(String(chunk));
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
      // Fastify logs "request completed" once the response has been sent, which may be after the
      // client has it: wait for that line (re-checked at each line written), not for a loop turn.
      await written.until((all) => all.some((l) => l.includes('"msg":"request completed"') && l.includes('log-test-42')), 'the "request completed" line');
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

describe('the per-request logger (src/http/request-logger.ts)', () => {
  const capture = (level: string) => {
    const lines: Array<Record<string, unknown>> = [];
    const sink = new Writable({
      write(chunk, _enc, cb) {
        for (const l of String(chunk).split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
        cb();
      },
    });
    const logger = pino({ level, redact: { paths: ['*.authorization'], censor: '[redacted]' } }, sink);
    // Counts the children made from the server's logger: one per request before, none at warn now.
    let children = 0;
    const child = logger.child.bind(logger);
    logger.child = ((...args: Parameters<typeof child>) => {
      children++;
      return child(...args);
    }) as typeof logger.child;
    return { lines, logger, children: () => children };
  };

  it('at warn, a request that writes no line makes no pino child; one that does has its reqId', async () => {
    const { lines, logger, children } = capture('warn');
    const dir = mkdtempSync(join(tmpdir(), 'lumengate-reqlog-'));
    const server = await startServer({ settings: settingsFromEnv({ HOST: '127.0.0.1', PORT: '0', DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}` }), logger });
    try {
      const before = children();
      for (let i = 0; i < 3; i++) {
        const res = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': `quiet-${i}` } });
        assert.equal(res.status, 200);
        await res.arrayBuffer();
      }
      assert.equal(children() - before, 0, 'no child logger for requests that log nothing');
      assert.deepEqual(
        lines.filter((l) => String(l.reqId).startsWith('quiet-')),
        [],
      );
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes through a child with the bindings and redaction of pino, only at enabled levels', async () => {
    const { RequestLogger, requestLoggerFactory } = await import('../../src/http/request-logger.js');
    const { lines, logger, children } = capture('warn');
    const log = new RequestLogger(logger, { reqId: 'r-1' });
    log.info('not written');
    log.debug({ x: 1 }, 'not written');
    assert.equal(log.made, false);
    assert.equal(log.level, 'warn');
    log.warn({ req: { authorization: 'Bearer nb_fake_secret' } }, 'written');
    assert.equal(log.made, true);
    assert.equal(children(), 1);
    assert.deepEqual(
      lines.map((l) => [l.reqId, l.msg, l.req]),
      [['r-1', 'written', { authorization: '[redacted]' }]],
    );
    log.error('again');
    assert.equal(children(), 1, 'the child is made once');
    // Raising the level makes the child and sets it there, not on the server's logger.
    const other = new RequestLogger(logger, { reqId: 'r-2' });
    other.level = 'info';
    other.info('now written');
    assert.equal(logger.level, 'warn');
    assert.deepEqual(lines.at(-1)?.reqId, 'r-2');
    // A route with its own level or serializers gets pino's child at once (Fastify passes them as options).
    assert.equal(requestLoggerFactory(logger, { reqId: 'r-3' }, { level: 'debug' }) instanceof RequestLogger, false);
    assert.equal(requestLoggerFactory(logger, { reqId: 'r-4' }, {}) instanceof RequestLogger, true);
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
