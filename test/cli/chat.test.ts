// `lumengate chat`: a real CLI process streaming from a real server.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startHarness, type Harness } from '../support/harness.js';

const cli = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

function run(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [cli, ...args], { env: { ...process.env, LUMENGATE_API_KEY: '' } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('close', (code) => resolve({ code, stdout, stderr }));
    p.stdin.end(stdin);
  });
}

describe('lumengate chat', () => {
  let h: Harness;
  before(async () => { h = await startHarness(); });
  after(() => h.close());

  it('one-shot: streams the answer to stdout, the cost to stderr, charges the account', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['Hi', ' there'] });
    const r = await run(['chat', 'gpt-5-nano', 'say', 'hi', '--url', h.url, '--key', a.key, '--system', 'brief']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Hi there\n');
    assert.match(r.stderr, /\[1 tokens spent, balance 9\]/);
    assert.deepEqual(h.fake.requests.at(-1)!.body.messages, [{ role: 'system', content: 'brief' }, { role: 'user', content: 'say hi' }]);
    assert.equal(await h.balance(a.id), 9);
  });

  it('interactive: one turn per stdin line, with the conversation so far', async () => {
    const a = await h.account({ tokens: 10 });
    h.fake.respondWith({ chunks: ['ok'] });
    const r = await run(['chat', 'gpt-5-nano', '--url', h.url, '--key', a.key], 'first\nsecond\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.replace(/\r/g, ''), 'ok\nok\n');
    assert.deepEqual(h.fake.requests.at(-1)!.body.messages, [{ role: 'user', content: 'first' }, { role: 'assistant', content: 'ok' }, { role: 'user', content: 'second' }]);
  });

  it('errors: exit code 1 with the server message', async () => {
    const a = await h.account({ tokens: 0 });
    const r = await run(['chat', 'gpt-5-nano', 'hi', '--url', h.url, '--key', a.key]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /HTTP 402: insufficient tokens/);
    const noKey = await run(['chat', 'gpt-5-nano', 'hi', '--url', h.url]);
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /API key is required/);
  });
});
