// `lumengate models pull` really downloads: a GGUF served over HTTP on 127.0.0.1 (the same code
// path as a Hugging Face download, minus the hf: name resolution, which needs the internet).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/config/env.js';
import { buildTinyGguf } from '../../src/providers/local/tiny-gguf.js';
import { freePort } from '../support/free-port.js';

const run = promisify(execFile);
const cli = join(packageRoot(), 'bin', 'lumengate.js');

describe('lumengate models pull', () => {
  let dir: string;
  let server: Server;
  let origin: string;
  const model = buildTinyGguf();
  const served: string[] = [];
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lumengate-pull-'));
    server = createServer((req, res) => {
      served.push(`${req.method} ${req.url}`);
      if (req.url !== '/models/tiny-chat.gguf') return void res.writeHead(404).end();
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(model.length) });
      // Several writes, so the progress callback sees the download advance.
      const step = Math.ceil(model.length / 8);
      for (let i = 0; i < model.length; i += step) res.write(model.subarray(i, i + step));
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('downloads into LUMENGATE_MODELS_DIR under --as, validates it, and prints where it went', async () => {
    const env = { PATH: process.env.PATH, LUMENGATE_MODELS_DIR: dir, DATABASE_URL: `sqlite:${join(dir, 'x.db')}` };
    const { stdout } = await run(process.execPath, [cli, 'models', 'pull', `${origin}/models/tiny-chat.gguf`, '--as', 'tiny-chat.gguf', '--json'], { env });
    const out = JSON.parse(stdout);
    assert.equal(out.path, join(dir, 'tiny-chat.gguf'));
    assert.ok(existsSync(out.path));
    assert.ok(served.some((s) => s.endsWith('/models/tiny-chat.gguf')));
    // A second pull keeps the file (no new GET of the body).
    const gets = served.filter((s) => s.startsWith('GET')).length;
    await run(process.execPath, [cli, 'models', 'pull', `${origin}/models/tiny-chat.gguf`, '--as', 'tiny-chat.gguf', '--json'], { env });
    assert.equal(served.filter((s) => s.startsWith('GET')).length, gets);
  });

  it('a missing file fails before any progress bar, with the status and the manual alternative', async () => {
    const env = { PATH: process.env.PATH, LUMENGATE_MODELS_DIR: dir };
    await assert.rejects(run(process.execPath, [cli, 'models', 'pull', `${origin}/models/nope.gguf`, '--as', 'nope.gguf'], { env }), (e: any) => {
      assert.notEqual(e.code, 0);
      assert.match(e.stderr, /lumengate: could not download .*HTTP 404/);
      assert.match(e.stderr, /copy a GGUF file into LUMENGATE_MODELS_DIR/);
      assert.doesNotMatch(e.stderr, /%/, 'no progress bar for an error page');
      return true;
    });
    assert.equal(existsSync(join(dir, 'nope.gguf')), false);
  });

  it('an unreachable server fails within seconds naming the reason (no retries for minutes)', async () => {
    const env = { PATH: process.env.PATH, LUMENGATE_MODELS_DIR: dir };
    // Nobody listens there (fetch refuses port 1 outright, so a closed free port tests the refusal).
    // The CLI is killed after 20 s: a hang fails the test rather than stalling it.
    const url = `http://127.0.0.1:${await freePort()}/x.gguf`;
    await assert.rejects(run(process.execPath, [cli, 'models', 'pull', url], { env, timeout: 20_000 }), (e: any) => {
      assert.equal(e.killed, false, 'it did not hang');
      assert.ok(e.stderr.includes(`could not download ${url}: fetch failed (ECONNREFUSED)`), e.stderr);
      assert.match(e.stderr, /copy a GGUF file into LUMENGATE_MODELS_DIR/);
      return true;
    });
  });
});
