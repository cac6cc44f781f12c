// Operator CLI ergonomics, as real processes: one error prefix naming the argument, enum options
// checked, accounts show / suspend / generations show / models list --url, and bin/ without dist/.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/config/env.js';
import { startFakeOpenAI, type FakeUpstream } from '../support/fake-openai.js';
import { startFakeOllama, type FakeOllama } from '../support/fake-ollama.js';
import { startInstance, type Instance } from '../support/instances.js';

const bin = join(packageRoot(), 'bin', 'lumengate.js');

/** Runs bin/lumengate.js (or another script) to its exit; never throws on a non-zero exit. */
function exec(script: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [script, ...args], { env }, (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }));
  });
}

/** Exits 1 with one stderr line: the shared prefix and no stack trace. */
function assertOneLineError(r: { code: number; stderr: string }, pattern: RegExp) {
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^lumengate: (?!error:)/);
  assert.match(lines[0]!, pattern);
}

describe('lumengate CLI for operators', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let fake: FakeUpstream;
  let ollama: FakeOllama;
  const lg = (...args: string[]) => exec(bin, args, env);
  const lgJson = async (...args: string[]) => {
    const r = await lg(...args, '--json');
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout);
  };
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lumengate-cli-ux-'));
    fake = await startFakeOpenAI();
    ollama = await startFakeOllama(['llama3.2:3b']);
    env = { PATH: process.env.PATH, DATABASE_URL: `sqlite:${join(dir, 'cli.db')}`, LOG_LEVEL: 'silent', OPENAI_API_KEY: 'sk-fake', OPENAI_BASE_URL: `${fake.origin}/v1` };
  });
  after(async () => {
    await fake.close();
    await ollama.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('errors share one prefix and name the argument or option', async () => {
    assertOneLineError(await lg('tokens', 'grant', '1', 'abc'), /'abc'.*argument 'amount'.*non-negative integer/);
    assertOneLineError(await lg('tokens', 'grant', 'x1', '5'), /'x1'.*argument 'account'/);
    assertOneLineError(await lg('accounts', 'show', '999'), /^lumengate: account 999 not found$/);
    assertOneLineError(await lg('usage', '--since', 'yesterday'), /--since.*'yesterday'.*ISO 8601/);
    assertOneLineError(await lg('accounts', 'create', '--plan', 'platinum'), /--plan.*free, basic, pro, vip, elite/);
  });

  it('enum options are checked: a typo is an error, not an empty list', async () => {
    assertOneLineError(await lg('accounts', 'list', '--status', 'foo'), /--status.*'foo'.*active, suspended/);
    assertOneLineError(await lg('generations', 'list', '--status', 'done'), /--status.*pending, completed, failed/);
    assertOneLineError(await lg('generations', 'list', '--category', 'chat'), /--category/);
    assertOneLineError(await lg('generations', 'list', '--limit', '500'), /--limit.*1-100/);
  });

  it('keys create asks for the account first, then for --name', async () => {
    assertOneLineError(await lg('keys', 'create'), /missing required argument 'account'/);
    assertOneLineError(await lg('keys', 'create', '1'), /required option '--name <name>'/);
  });

  it('accounts show prints each key column once; suspending twice says it was already suspended', async () => {
    const acct = await lgJson('accounts', 'create', '--plan', 'pro', '--tokens', '5');
    await lgJson('keys', 'create', String(acct.id), '--name', 'ops');
    const show = await lg('accounts', 'show', String(acct.id));
    const header = show.stdout
      .split('\n')
      .find((l) => l.startsWith('id'))!
      .split(/\s+/);
    assert.deepEqual(header, ['id', 'name', 'display_prefix', 'created_at', 'last_used_at']);
    assert.match((await lg('accounts', 'suspend', String(acct.id))).stdout, /suspended: its keys are refused/);
    const again = await lg('accounts', 'suspend', String(acct.id));
    assert.equal(again.code, 0);
    assert.equal(again.stdout, `account ${acct.id} is already suspended\n`);
    assert.equal((await lgJson('accounts', 'suspend', String(acct.id))).changed, false);
    assert.equal((await lgJson('accounts', 'activate', String(acct.id))).changed, true);
  });

  describe('with a running server', () => {
    let server: Instance;
    before(async () => {
      server = await startInstance({ ...(env as Record<string, string>), LOG_LEVEL: 'info', OLLAMA_BASE_URL: ollama.baseUrl });
    });
    after(async () => {
      await server.stop();
    });

    it('generations list has an error column and generations show gives the whole record', async () => {
      const acct = await lgJson('accounts', 'create', '--plan', 'pro', '--tokens', '10');
      const { key } = await lgJson('keys', 'create', String(acct.id), '--name', 'gen');
      const generate = () =>
        fetch(`${server.url}/api/v2/generate`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'gpt-5-nano', prompt: 'hi' }),
        });
      assert.equal((await generate()).status, 200);
      fake.respondWith({ status: 400 });
      const failed = await generate();
      fake.respondWith({});
      assert.notEqual(failed.status, 200);
      const page = await lgJson('generations', 'list', '--account', String(acct.id));
      const bad = page.items.find((g: any) => g.status === 'failed');
      assert.ok(bad?.error, 'the failed generation has an error');
      const list = (await lg('generations', 'list', '--account', String(acct.id))).stdout.split('\n');
      assert.match(list[0]!, /\berror$/);
      assert.ok(list.find((l) => new RegExp(`^${bad.id}\\s`).test(l))!.includes(bad.error.slice(0, 30)));

      const shown = await lg('generations', 'show', String(bad.id));
      assert.equal(shown.code, 0, shown.stderr);
      assert.match(shown.stdout, new RegExp(`^id: +${bad.id}$`, 'm'));
      assert.match(shown.stdout, /^status: +failed$/m);
      assert.match(shown.stdout, /^prompt: +hi$/m);
      assert.ok(shown.stdout.includes(`error:         ${bad.error}`));
      const ok = await lgJson('generations', 'show', String(page.items.find((g: any) => g.status === 'completed').id));
      assert.equal(ok.result_text, 'Hello, world');
      assert.equal(ok.account_id, acct.id);
      assertOneLineError(await lg('generations', 'show', '99999'), /^lumengate: generation 99999 not found$/);
    });

    it("models list says it reflects this shell's environment; --url asks the server, discovered models included", async () => {
      const local = await lg('models', 'list');
      assert.match(local.stdout, /as this shell's environment .* --url/);
      assert.ok(!local.stdout.includes('ollama/llama3.2:3b'), 'this shell has no OLLAMA_BASE_URL and does not discover');
      const remote = await lgJson('models', 'list', '--url', server.url);
      assert.deepEqual(
        remote.find((m: any) => m.slug === 'ollama/llama3.2:3b'),
        { slug: 'ollama/llama3.2:3b', category: 'text', min_plan: 'free', token_cost: 1, streaming: true, available: true, provider: 'ollama' },
      );
      assert.match((await lg('models', 'list', '--url', server.url)).stdout, new RegExp(`models of the server at ${server.url}`));
      assertOneLineError(await lg('models', 'list', '--url', 'http://127.0.0.1:1'), /cannot reach http:\/\/127\.0\.0\.1:1/);
    });
  });
});

describe('bin/lumengate.js on a fresh clone', () => {
  it('without dist/ it says to build first, in one line, with no stack trace', async () => {
    const clone = mkdtempSync(join(tmpdir(), 'lumengate-clone-'));
    try {
      mkdirSync(join(clone, 'bin'));
      copyFileSync(bin, join(clone, 'bin', 'lumengate.js'));
      copyFileSync(join(packageRoot(), 'package.json'), join(clone, 'package.json')); // "type": "module", as in the clone
      const r = await exec(join(clone, 'bin', 'lumengate.js'), ['accounts', 'list'], { PATH: process.env.PATH });
      assertOneLineError(r, /npm run build/);
      assert.equal(r.stdout, '');
    } finally {
      rmSync(clone, { recursive: true, force: true });
    }
  });
});
