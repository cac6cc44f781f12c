#!/usr/bin/env node
// The `lumengate` command. Every command takes --json for machine-readable output.
// First, before anything else loads: the heap settings of `serve` (see heap.ts).
import './heap.js';
import { basename } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { settingsFromEnv } from '../config/env.js';
import { loadCatalog } from '../config/catalog.js';
import { openDatabase, type Db } from '../db/connect.js';
import * as service from '../accounts/service.js';
import { usageSummary } from '../generation/store.js';
import { listHistory, parseHistoryQuery } from '../generation/history.js';
import { GatewayError } from '../core/errors.js';
import { buildProviders } from '../providers/registry.js';
import { startServer } from '../server.js';
import { pullModel } from '../providers/local/model-files.js';
import { createPullProgressPrinter } from '../providers/local/pull-progress.js';
import { modelAvailability } from '../generation/availability.js';
import { registerChat } from './chat.js';
import { isClusterWorker, runPrimary, workerCount } from './cluster.js';

const program = new Command('lumengate').description('Self-hosted AI generation API gateway').version('0.1.0');

const positiveInt = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
};

async function withDb<T>(fn: (db: Db) => Promise<T>): Promise<T> {
  const db = await openDatabase(settingsFromEnv().databaseUrl);
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

function print(json: boolean, data: unknown, human: () => string) {
  process.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
}

function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(none)';
  const cols = Object.keys(rows[0]!);
  const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) => vals.map((v, i) => v.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}

program.command('serve').description('start the HTTP server')
  .option('--workers <n>', 'processes sharing the port, one per core with 0 (see docs/BENCHMARKS.md)', positiveInt, 1)
  .action(async (o: { workers: number }) => {
  const workers = workerCount(o.workers);
  if (workers > 1 && !isClusterWorker()) return runPrimary(workers);
  const server = await startServer();
  const stop = async () => { await server.close(); process.exit(0); };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
});

// Account, key and usage commands call the same service functions as the /admin API.
const accounts = program.command('accounts').description('manage accounts');
accounts.command('create').description('create an account')
  .requiredOption('--plan <plan>', 'free, basic, pro, vip or elite')
  .option('--tokens <n>', 'plan tokens to grant', positiveInt, 0)
  .option('--package-tokens <n>', 'package (bonus) tokens to grant', positiveInt, 0)
  .option('--name <name>', 'display name', '')
  .option('--json', 'machine-readable output')
  .action(async (o: { plan: string; tokens: number; packageTokens: number; name: string; json?: boolean }) => {
    const a = await withDb((db) => service.createAccount(db, { name: o.name, plan: o.plan, tokens: o.tokens, package_tokens: o.packageTokens }));
    print(!!o.json, a, () => `account ${a.id} created (plan ${a.plan}, ${a.plan_tokens} tokens)`);
  });
accounts.command('list').description('list accounts').option('--status <status>', 'active or suspended').option('--json', 'machine-readable output')
  .action(async (o: { status?: string; json?: boolean }) => {
    const rows = await withDb((db) => service.listAccounts(db, { status: o.status }));
    print(!!o.json, rows, () => table(rows.map((a) => ({ id: a.id, name: a.name, plan: a.plan, balance: a.token_balance, plan_tokens: a.plan_tokens, package_tokens: a.package_tokens, status: a.status }))));
  });
accounts.command('show <account>').description('one account with its keys and usage').option('--json', 'machine-readable output')
  .action(async (account: string, o: { json?: boolean }) => {
    const id = service.parseId(account, 'account');
    const r = await withDb(async (db) => ({ ...(await service.getAccount(db, id)), keys: await service.listKeys(db, { accountId: id }), usage: await usageSummary(db, { accountId: id }) }));
    print(!!o.json, r, () => `account ${r.id} ${r.name} (plan ${r.plan}, ${r.status}): balance ${r.token_balance}\n\nkeys:\n${table(r.keys.map(({ account_id: _a, revoked_at: _r, ...k }) => k))}\n\nusage:\n${table(r.usage.map(({ account_id: _a, ...u }) => u))}`);
  });
accounts.command('plan <account> <plan>').description('change the plan of an account').option('--expires <iso>', 'plan expiry (ISO 8601), or "none"')
  .option('--json', 'machine-readable output')
  .action(async (account: string, plan: string, o: { expires?: string; json?: boolean }) => {
    const change: Record<string, unknown> = { plan };
    if (o.expires !== undefined) change.plan_expires_at = o.expires === 'none' ? null : o.expires;
    const a = await withDb((db) => service.updateAccount(db, service.parseId(account, 'account'), change));
    print(!!o.json, a, () => `account ${a.id}: plan ${a.plan}${a.plan_expires_at ? ` until ${a.plan_expires_at}` : ''}`);
  });
for (const [cmd, status, verb] of [['suspend', 'suspended', 'suspended: its keys are refused at once'], ['activate', 'active', 'active']] as const) {
  accounts.command(`${cmd} <account>`).description(cmd === 'suspend' ? 'suspend an account (all its keys stop working at once)' : 'reactivate a suspended account')
    .option('--json', 'machine-readable output')
    .action(async (account: string, o: { json?: boolean }) => {
      const a = await withDb((db) => service.updateAccount(db, service.parseId(account, 'account'), { status }));
      print(!!o.json, a, () => `account ${a.id} ${verb}`);
    });
}

program.command('tokens').description('token balances').command('grant <account> <n>').description('grant tokens to an account (plan tokens unless --package)')
  .option('--package', 'grant package (bonus) tokens, spent after plan tokens and never expiring')
  .option('--note <text>', 'note kept in the ledger')
  .option('--json', 'machine-readable output')
  .action(async (account: string, n: string, o: { package?: boolean; note?: string; json?: boolean }) => {
    const a = await withDb((db) => service.grant(db, service.parseId(account, 'account'), { amount: positiveInt(n), pool: o.package ? 'package' : 'plan', note: o.note }));
    print(!!o.json, a, () => `account ${a.id}: balance ${a.token_balance} (plan ${a.plan_tokens}, package ${a.package_tokens})`);
  });

const keys = program.command('keys').description('manage API keys');
keys.command('create <account>').description('create an API key (printed once)').requiredOption('--name <name>', 'key name')
  .option('--json', 'machine-readable output')
  .action(async (account: string, o: { name: string; json?: boolean }) => {
    const k = await withDb((db) => service.issueKey(db, service.parseId(account, 'account'), { name: o.name }));
    print(!!o.json, k, () => `key ${k.id} for account ${k.account_id}: ${k.key}\n(shown once: store it now)`);
  });
keys.command('list').description('list API keys (never the secret)').option('--account <id>', 'only this account', positiveInt)
  .option('--all', 'include revoked keys').option('--json', 'machine-readable output')
  .action(async (o: { account?: number; all?: boolean; json?: boolean }) => {
    const rows = await withDb((db) => service.listKeys(db, { accountId: o.account, includeRevoked: !!o.all }));
    print(!!o.json, rows, () => table(rows.map(({ prefix: _p, ...k }) => k)));
  });
keys.command('rename <id> <name>').description('rename an API key').option('--json', 'machine-readable output')
  .action(async (id: string, name: string, o: { json?: boolean }) => {
    const k = await withDb((db) => service.renameKey(db, service.parseId(id, 'key'), { name }));
    print(!!o.json, k, () => `key ${k.id} renamed to ${k.name}`);
  });
keys.command('revoke <id>').description('revoke an API key at once').option('--json', 'machine-readable output').action(async (id: string, o: { json?: boolean }) => {
  const revoked = await withDb((db) => service.revokeKey(db, service.parseId(id, 'key')).then(() => true, (err: unknown) => {
    if (err instanceof GatewayError && err.code === 'not_found') return false;
    throw err;
  }));
  print(!!o.json, { id: Number(id), revoked }, () => (revoked ? `key ${id} revoked` : `no active key ${id}`));
  if (!revoked) process.exitCode = 1;
});

program.command('usage').description('requests and tokens per account and model')
  .option('--account <id>', 'only this account', positiveInt)
  .option('--since <iso>', 'from this instant (ISO 8601)').option('--until <iso>', 'before this instant (ISO 8601)')
  .option('--json', 'machine-readable output')
  .action(async (o: { account?: number; since?: string; until?: string; json?: boolean }) => {
    for (const t of [o.since, o.until]) if (t !== undefined && Number.isNaN(Date.parse(t))) throw new InvalidArgumentError(`not an ISO 8601 time: ${t}`);
    const rows = await withDb((db) => usageSummary(db, { accountId: o.account, since: o.since && new Date(o.since).toISOString(), until: o.until && new Date(o.until).toISOString() }));
    print(!!o.json, rows, () => table(rows as unknown as Record<string, unknown>[]));
  });

program.command('generations').description('generation history').command('list').description('list generations, newest first')
  .option('--account <id>', 'only this account').option('--model <slug>', 'only this model').option('--category <c>', 'only this category')
  .option('--status <s>', 'pending, completed or failed').option('--limit <n>', 'at most n (1-100)', '20').option('--cursor <c>', 'next_cursor of a previous page')
  .option('--deleted', 'include generations their owner deleted').option('--json', 'machine-readable output')
  .action(async (o: { account?: string; model?: string; category?: string; status?: string; limit: string; cursor?: string; deleted?: boolean; json?: boolean }) => {
    const s = settingsFromEnv();
    const catalog = loadCatalog(s.configPath);
    const filter = parseHistoryQuery({ account_id: o.account, model_slug: o.model, category: o.category, status: o.status, limit: o.limit, cursor: o.cursor, include_deleted: o.deleted ? 'true' : undefined }, { admin: true });
    const page = await withDb((db) => listHistory(db, catalog, filter));
    print(!!o.json, page, () => `${table(page.items.map((g) => ({ id: g.id, account: (g as { account_id?: number }).account_id ?? '', model: g.model_slug, status: g.status, tokens: g.tokens_spent, created_at: g.created_at })))}${page.next_cursor ? `\n(more: --cursor ${page.next_cursor})` : ''}`);
  });

const models = program.command('models').description('model catalog and local model files');
models.command('pull <uri>').description('download a GGUF model (hf:user/repo:quant or https URL) into LUMENGATE_MODELS_DIR, with progress')
  .option('--as <file>', 'file name to save it under (then route a catalog model to that name)')
  .option('--json', 'machine-readable output')
  .action(async (uri: string, o: { json?: boolean; as?: string }) => {
    const progress = o.json ? undefined : createPullProgressPrinter(uri);
    try {
      const path = await pullModel(uri, { onProgress: progress?.onProgress, fileName: o.as });
      progress?.stop();
      print(!!o.json, { uri, path }, () => `${uri} -> ${path}\nRoute a catalog model to it: { "provider": "local", "model": "${basename(path)}" } (see README, Local models).`);
    } catch (err) {
      progress?.stop();
      throw err;
    }
  });
models.command('list').description('list models and whether a provider is configured')
  .option('--json', 'machine-readable output')
  .action(async (o: { json?: boolean }) => {
    const s = settingsFromEnv();
    const catalog = loadCatalog(s.configPath);
    const providers = buildProviders(catalog.providers, s.env);
    // The same answer as the API's `available` / `unavailable_reason` (a missing local file included).
    const rows = await Promise.all(catalog.models.map(async (m) => {
      const { available, unavailable_reason } = await modelAvailability({ catalog, providers }, m);
      const ready = available ? m.routes.find((r) => providers.get(r.provider)) : undefined;
      return {
        slug: m.slug, category: m.category, min_plan: m.min_plan, token_cost: m.token_cost, streaming: m.supports_streaming,
        available, unavailable_reason, route: ready ? `${ready.provider}:${ready.model}` : unavailable_reason,
      };
    }));
    print(!!o.json, rows, () => table(rows));
  });

registerChat(program);

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`lumengate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
