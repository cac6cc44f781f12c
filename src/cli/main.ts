#!/usr/bin/env node
// The `lumengate` command. Every command takes --json for machine-readable output.
import { Command, InvalidArgumentError } from 'commander';
import { settingsFromEnv } from '../config/env.js';
import { loadCatalog } from '../config/catalog.js';
import { openDatabase, type Db } from '../db/connect.js';
import { createAccount, isPlan, listAccounts, getAccount } from '../accounts/accounts.js';
import { createKey, listKeys, revokeKey } from '../accounts/keys.js';
import { grantTokens } from '../billing/ledger.js';
import { buildProviders } from '../providers/registry.js';
import { startServer } from '../server.js';
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

const accounts = program.command('accounts').description('manage accounts');
accounts.command('create').description('create an account')
  .requiredOption('--plan <plan>', 'free, basic, pro, vip or elite')
  .option('--tokens <n>', 'plan tokens to grant', positiveInt, 0)
  .option('--name <name>', 'display name', '')
  .option('--json', 'machine-readable output')
  .action(async (o: { plan: string; tokens: number; name: string; json?: boolean }) => {
    if (!isPlan(o.plan)) throw new InvalidArgumentError(`unknown plan ${o.plan}`);
    const plan = o.plan;
    const a = await withDb((db) => createAccount(db, { name: o.name, plan, planTokens: o.tokens }));
    print(!!o.json, a, () => `account ${a.id} created (plan ${a.plan}, ${a.plan_tokens} tokens)`);
  });
accounts.command('list').description('list accounts').option('--json', 'machine-readable output').action(async (o: { json?: boolean }) => {
  const rows = await withDb(listAccounts);
  print(!!o.json, rows, () => table(rows.map((a) => ({ id: a.id, name: a.name, plan: a.plan, balance: a.plan_tokens + a.package_tokens, plan_tokens: a.plan_tokens, package_tokens: a.package_tokens, status: a.status }))));
});

program.command('tokens').description('token balances').command('grant <account> <n>').description('grant tokens to an account (plan tokens unless --package)')
  .option('--package', 'grant package (bonus) tokens, spent after plan tokens and never expiring')
  .option('--json', 'machine-readable output')
  .action(async (account: string, n: string, o: { package?: boolean; json?: boolean }) => {
    const id = positiveInt(account);
    const amount = positiveInt(n);
    const a = await withDb(async (db) => {
      await grantTokens(db, id, amount, o.package ? 'package' : 'plan', 'granted by operator');
      return getAccount(db, id);
    });
    print(!!o.json, a, () => `account ${a.id}: balance ${a.plan_tokens + a.package_tokens} (plan ${a.plan_tokens}, package ${a.package_tokens})`);
  });

const keys = program.command('keys').description('manage API keys');
keys.command('create <account>').description('create an API key (printed once)').requiredOption('--name <name>', 'key name')
  .option('--json', 'machine-readable output')
  .action(async (account: string, o: { name: string; json?: boolean }) => {
    const k = await withDb((db) => createKey(db, positiveInt(account), o.name));
    print(!!o.json, k, () => `key ${k.id} for account ${k.account_id}: ${k.key}\n(shown once: store it now)`);
  });
keys.command('list').description('list API keys (never the secret)').option('--account <id>', 'only this account', positiveInt).option('--json', 'machine-readable output')
  .action(async (o: { account?: number; json?: boolean }) => {
    const rows = await withDb((db) => listKeys(db, o.account));
    print(!!o.json, rows, () => table(rows));
  });
keys.command('revoke <id>').description('revoke an API key at once').option('--json', 'machine-readable output').action(async (id: string, o: { json?: boolean }) => {
  const revoked = await withDb((db) => revokeKey(db, positiveInt(id)));
  print(!!o.json, { id: Number(id), revoked }, () => (revoked ? `key ${id} revoked` : `no active key ${id}`));
  if (!revoked) process.exitCode = 1;
});

program.command('models').description('model catalog').command('list').description('list models and whether a provider is configured')
  .option('--json', 'machine-readable output')
  .action((o: { json?: boolean }) => {
    const s = settingsFromEnv();
    const catalog = loadCatalog(s.configPath);
    const providers = buildProviders(catalog.providers, s.env);
    const rows = catalog.models.map((m) => {
      const ready = m.routes.find((r) => providers.get(r.provider));
      return {
        slug: m.slug, category: m.category, min_plan: m.min_plan, token_cost: m.token_cost, streaming: m.supports_streaming,
        available: !!ready, route: ready ? `${ready.provider}:${ready.model}` : m.routes.length ? providers.unavailableReason(m.routes[0]!.provider) : 'no provider',
      };
    });
    print(!!o.json, rows, () => table(rows));
  });

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`lumengate: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
