// The operator CLI, run as a real process against a real SQLite file; `serve` answers over HTTP.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/config/env.js';
import { startFakeOpenAI, type FakeUpstream } from '../support/fake-openai.js';
import { sseEvents } from '../support/harness.js';
import { LineLog } from '../support/waits.js';
import { freePort } from '../support/free-port.js';

const run = promisify(execFile);
const cli = join(packageRoot(), 'bin', 'lumengate.js');

describe('lumengate CLI', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let fake: FakeUpstream;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lumengate-cli-'));
    fake = await startFakeOpenAI();
    env = { PATH: process.env.PATH, DATABASE_URL: `sqlite:${join(dir, 'cli.db')}`, LOG_LEVEL: 'silent', OPENAI_API_KEY: 'sk-fake', OPENAI_BASE_URL: `${fake.origin}/v1` };
  });
  after(async () => {
    await fake.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const lg = async (...args: string[]) => JSON.parse((await run(process.execPath, [cli, ...args, '--json'], { env })).stdout);

  it('creates accounts, grants tokens, creates, lists and revokes keys, with --json everywhere', async () => {
    const acct = await lg('accounts', 'create', '--plan', 'pro', '--tokens', '10');
    assert.equal(acct.plan, 'pro');
    assert.equal(acct.plan_tokens, 10);
    const granted = await lg('tokens', 'grant', String(acct.id), '5', '--package');
    assert.equal(granted.package_tokens, 5);
    const key = await lg('keys', 'create', String(acct.id), '--name', 'ci');
    assert.match(key.key, /^nb_[0-9A-Za-z]{45}$/);
    const keys = await lg('keys', 'list');
    assert.equal(keys.length, 1);
    assert.equal(keys[0].name, 'ci');
    assert.ok(!JSON.stringify(keys).includes(key.key), 'the secret is never printed again');
    assert.ok(keys[0].display_prefix.startsWith(key.key.slice(0, 7)));
    const list = await lg('accounts', 'list');
    assert.equal(list[0].plan_tokens + list[0].package_tokens, 15);
    assert.deepEqual(await lg('keys', 'revoke', String(key.id)), { id: key.id, revoked: true });
    assert.deepEqual(await lg('keys', 'list'), [], 'revoked keys are hidden by default');
    assert.notEqual((await lg('keys', 'list', '--all'))[0].revoked_at, null);
  });

  it('models list says which env var enables each model', async () => {
    const models = await lg('models', 'list');
    assert.equal(models.length, 56); // 54 generation models (espeak included) and 2 embedding models
    const nano = models.find((m: any) => m.slug === 'gpt-5-nano');
    assert.equal(nano.available, true);
    const haiku = models.find((m: any) => m.slug === 'claude-haiku-4.5');
    assert.equal(haiku.available, false);
    assert.match(haiku.route, /ANTHROPIC_API_KEY/);
  });

  it('the account commands and --help load neither the server nor any provider client', async () => {
    // A preload that, as the process exits, lists every script V8 compiled (the inspector replays
    // them on Debugger.enable); what the server alone needs must not be among them.
    const preload = join(dir, 'scripts-at-exit.mjs');
    writeFileSync(
      preload,
      [
        "import { Session } from 'node:inspector';",
        "import { writeFileSync } from 'node:fs';",
        "process.on('exit', () => {",
        '  const urls = [];',
        '  const session = new Session();',
        '  session.connect();',
        "  session.on('Debugger.scriptParsed', (m) => urls.push(m.params.url));",
        "  session.post('Debugger.enable', () => writeFileSync(process.env.SCRIPTS_OUT, JSON.stringify(urls)));",
        '});',
      ].join('\n'),
    );
    for (const args of [['--help'], ['accounts', 'list', '--json']]) {
      const out = join(dir, 'scripts.json');
      await run(process.execPath, ['--import', preload, cli, ...args], { env: { ...env, SCRIPTS_OUT: out } });
      const urls = JSON.parse(readFileSync(out, 'utf8')) as string[];
      assert.ok(
        urls.some((u) => u.endsWith('/cli/main.js')),
        `the list holds the CLI itself (${args.join(' ')})`,
      );
      const server = urls.filter((u) => /\/node_modules\/(fastify|@fastify\/[^/]+|undici|@ai-sdk\/[^/]+|prom-client)\/|\/src\/(server|http\/app|providers\/registry)\.js$/.test(u));
      assert.deepEqual(server, [], `${args.join(' ')} loaded server-only modules`);
    }
  });

  it('rejects bad arguments with a clear message and a non-zero exit', async () => {
    await assert.rejects(run(process.execPath, [cli, 'accounts', 'create', '--plan', 'platinum'], { env }), (e: any) => /plan/.test(e.stderr) && /elite/.test(e.stderr) && e.code !== 0);
    await assert.rejects(run(process.execPath, [cli, 'tokens', 'grant', '1', '-3'], { env }), (e: any) => e.code !== 0);
  });

  it('serve listens on HOST:PORT, runs migrations, and generates with a key made by the CLI', async () => {
    const acct = await lg('accounts', 'create', '--plan', 'basic', '--tokens', '3');
    const key = await lg('keys', 'create', String(acct.id), '--name', 'serve');
    const port = await freePort();
    // Logs at info, to say when it listens.
    const child = spawn(process.execPath, [cli, 'serve'], { env: { ...env, HOST: '127.0.0.1', PORT: String(port), LOG_LEVEL: 'info' }, stdio: ['ignore', 'pipe', 'ignore'] });
    try {
      // Waits for the event (its "lumengate listening" log line, written once it listens), however
      // long a cold start on a busy machine takes; if it exits first, its output ends and the wait fails.
      const out = LineLog.of(child.stdout);
      await out.until((lines) => lines.some((l) => l.includes('"msg":"lumengate listening"')), 'serve listening (exited early: port taken?)');
      assert.equal(child.exitCode, null, 'serve exited early (port taken?)');
      const up = await fetch(`http://127.0.0.1:${port}/api/v2/models/gpt-5`).then(
        (r) => r.ok,
        () => false,
      );
      assert.ok(up, 'server came up');
      const r = await fetch(`http://127.0.0.1:${port}/api/v2/generate/stream`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-5', prompt: 'hi' }),
      });
      const events = sseEvents(await r.text());
      assert.equal(events.at(-2).type, 'generation_end');
      assert.equal(events.at(-2).balance_remaining, 1);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
    assert.equal(child.exitCode ?? 0, 0);
  });

  it('first run with no provider and no local model: serves, and says plainly how to enable generation', async () => {
    const port = await freePort();
    const bare = { PATH: process.env.PATH, DATABASE_URL: env.DATABASE_URL, LOG_LEVEL: 'silent', HOST: '127.0.0.1', PORT: String(port), LUMENGATE_MODELS_DIR: join(dir, 'no-models') };
    const child = spawn(process.execPath, [cli, 'serve'], { env: bare, stdio: ['ignore', 'ignore', 'pipe'] });
    const err = LineLog.of(child.stderr);
    try {
      // The hint is written in one piece once the server listens: wait for its first line (an
      // event on the child's stderr; if it exits first, its output ends and the wait fails).
      await err.until((lines) => lines.some((l) => l.includes('no model can generate')), 'the first-run hint on stderr');
      const stderr = err.lines.join('\n');
      assert.match(stderr, /OPENAI_API_KEY/);
      assert.match(stderr, /lumengate models pull hf:/);
      const acct = await lg('accounts', 'create', '--plan', 'pro', '--tokens', '3');
      const key = await lg('keys', 'create', String(acct.id), '--name', 'first-run');
      const r = await fetch(`http://127.0.0.1:${port}/api/v2/generate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-5-nano', prompt: 'hi' }),
      });
      assert.equal(r.status, 503);
      const body = await r.json();
      assert.equal(body.error, 'model_unavailable');
      assert.match(body.message, /OPENAI_API_KEY/);
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    }
  });

  it('LUMENGATE_CONFIG adds an operator model (e.g. an Ollama model) and a broken file fails loudly', async () => {
    const cfg = join(dir, 'operator.json');
    writeFileSync(
      cfg,
      JSON.stringify({
        models: [
          {
            slug: 'llama3.2',
            name: 'Llama 3.2 (Ollama)',
            category: 'text',
            min_plan: 'free',
            pricing_type: 'fixed',
            token_cost: 1,
            min_token_cost: 1,
            max_token_cost: 1,
            supports_streaming: true,
            routes: [{ provider: 'ollama', model: 'llama3.2:3b' }],
          },
        ],
      }),
    );
    const models = JSON.parse((await run(process.execPath, [cli, 'models', 'list', '--json'], { env: { ...env, LUMENGATE_CONFIG: cfg, OLLAMA_BASE_URL: 'http://127.0.0.1:11434/v1' } })).stdout);
    const llama = models.find((m: any) => m.slug === 'llama3.2');
    assert.equal(llama.available, true);
    assert.equal(llama.route, 'ollama:llama3.2:3b');
    writeFileSync(cfg, JSON.stringify({ models: [{ slug: 'broken', category: 'text', routes: [{ provider: 'nowhere', model: 'x' }] }] }));
    await assert.rejects(run(process.execPath, [cli, 'models', 'list'], { env: { ...env, LUMENGATE_CONFIG: cfg } }), (e: any) => /invalid model catalog/.test(e.stderr));
  });
});
