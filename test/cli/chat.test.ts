// `lumengate chat` as a real child process against a real gateway (harness) and fake upstream.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { packageRoot } from '../../src/config/env.js';
import { startHarness, type Harness } from '../support/harness.js';

const cli = join(packageRoot(), 'bin', 'lumengate.js');

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  chunks: { at: number; text: string }[];
}

function lumengate(args: string[], opts: { env?: Record<string, string>; stdin?: string; onStdout?: (stdout: string) => void } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cli, ...args], { env: { PATH: process.env.PATH, ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    const run: Run = { code: null, stdout: '', stderr: '', chunks: [] };
    child.stdout.setEncoding('utf8').on('data', (t: string) => {
      run.stdout += t;
      run.chunks.push({ at: performance.now(), text: t });
      opts.onStdout?.(run.stdout);
    });
    child.stderr.setEncoding('utf8').on('data', (t: string) => {
      run.stderr += t;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      run.code = code;
      resolve(run);
    });
    child.stdin.end(opts.stdin ?? '');
  });
}

describe('lumengate chat', () => {
  let h: Harness;
  let account: { id: number; key: string };
  before(async () => {
    h = await startHarness();
    account = await h.account({ tokens: 50 });
  });
  after(() => h.close());

  it('streams the answer to stdout delta by delta, then reports tokens and balance on stderr', async () => {
    // The upstream sends "one " and then holds the rest until the test has seen "one" on stdout:
    // a CLI that buffered the answer would never print it, and the test would time out.
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    h.fake.respondWith({ chunks: ['one ', 'two ', 'three ', 'four ', 'five'], holdAfter: { writes: 1, until: held } });
    const n = h.fake.requests.length;
    let printedWhileHeld: string | undefined;
    const run = await lumengate(['chat', 'gpt-5-nano', 'Count', 'to', 'five', '--url', h.url, '--key', account.key, '--system', 'Be brief.', '--temperature', '0.3'], {
      onStdout: (stdout) => {
        if (printedWhileHeld === undefined && stdout.includes('one')) {
          printedWhileHeld = stdout;
          release();
        }
      },
    });
    release();
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'one two three four five\n');
    assert.equal(printedWhileHeld, 'one ', 'the first delta was printed while the upstream held the rest');
    const upstream = h.fake.requests[n]!;
    assert.match(run.stderr, /\[gpt-5-nano · generation \d+ · 1 token spent · balance 49\]/);
    assert.deepEqual(
      upstream.body.messages.map((m: any) => m.role),
      ['system', 'user'],
    );
    assert.equal(upstream.body.messages[1].content, 'Count to five');
    // gpt-5-nano takes only temperature 1: the adapter does not send another (catalog capability flag).
    assert.equal(upstream.body.temperature, undefined);
  });

  it('reads the URL and key from the environment and the prompt from stdin', async () => {
    h.fake.respondWith({ chunks: ['piped ', 'answer'] });
    const n = h.fake.requests.length;
    const run = await lumengate(['chat', 'gpt-5-nano'], { env: { LUMENGATE_URL: h.url, LUMENGATE_API_KEY: account.key }, stdin: 'What is in the pipe?\n' });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout, 'piped answer\n');
    assert.equal(h.fake.requests[n]!.body.messages.at(-1).content, 'What is in the pipe?');
  });

  it('--interactive keeps the conversation: the second turn carries the first answer', async () => {
    h.fake.respondWith([{ chunks: ['Hi there.'] }, { chunks: ['Still here.'] }]);
    const n = h.fake.requests.length;
    const run = await lumengate(['chat', 'gpt-5-nano', '-i', '--url', h.url, '--key', account.key], { stdin: 'hello\n\nare you there?\n/exit\n' });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(h.fake.requests.length, n + 2, 'two turns (the empty line is skipped)');
    assert.match(run.stdout, /Hi there\.\n[\s\S]*Still here\.\n/);
    const second = h.fake.requests[n + 1]!.body.messages.map((m: any) => [m.role, m.content]);
    assert.deepEqual(second, [
      ['user', 'hello'],
      ['assistant', 'Hi there.'],
      ['user', 'are you there?'],
    ]);
  });

  it('fails with a clear message and exit code 1: bad key, no key, unknown model, gateway down', async () => {
    const bad = await lumengate(['chat', 'gpt-5-nano', 'hi', '--url', h.url, '--key', 'nb_wrong']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not_authenticated: Invalid or revoked API key/);
    const none = await lumengate(['chat', 'gpt-5-nano', 'hi', '--url', h.url]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no API key: pass --key or set LUMENGATE_API_KEY/);
    const unknown = await lumengate(['chat', 'no-such-model', 'hi', '--url', h.url, '--key', account.key]);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /not_found/);
    const port = await closedPort();
    const down = await lumengate(['chat', 'gpt-5-nano', 'hi', '--url', `http://127.0.0.1:${port}`, '--key', account.key]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, new RegExp(`cannot reach http://127\\.0\\.0\\.1:${port}: ECONNREFUSED`));
    const temp = await lumengate(['chat', 'gpt-5-nano', 'hi', '--temperature', 'hot', '--key', account.key]);
    assert.equal(temp.code, 1);
    assert.match(temp.stderr, /must be a number from 0 to 2/);
  });
});
