#!/usr/bin/env node
// The `lumengate` command. Every command takes --json for machine-readable output.
// First, before anything else loads: the heap settings of `serve` (see heap.ts).
import './heap.js';
import { basename } from 'node:path';
import { Argument, Command, InvalidArgumentError, Option } from 'commander';
import { settingsFromEnv } from '../config/env.js';
import { loadCatalog, PLANS } from '../config/catalog.js';
import { openDatabase, type Db } from '../db/connect.js';
import * as service from '../accounts/service.js';
import { findGeneration, usageSummary } from '../generation/store.js';
import { CATEGORIES, STATUSES, historyItem, listHistory, parseHistoryQuery } from '../generation/history.js';
import { GatewayError } from '../core/errors.js';
import { registerChat } from './chat.js';
import { registerGenerate } from './generate.js';
import { isClusterWorker, runPrimary, workerCount } from './cluster.js';
// The server (Fastify, the routes, the providers' clients) and the model downloader are imported by
// the commands that use them, so `--help` and the account commands start in a fraction of the time.

const program = new Command('lumengate').description('Self-hosted AI generation API gateway').version('0.1.0');
// One prefix for every error, commander's (which name the argument or option) and ours. Set before
// the subcommands are added: they copy it.
const PREFIX = 'lumengate: ';
program.configureOutput({ outputError: (str, write) => write(PREFIX + str.replace(/^error: /, '')) });

// Argument parsers: commander names the argument in its message ("... for argument 'amount'. must be ...").
const positiveInt = (v: string) => {
  const n = /^\d{1,15}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('must be a non-negative integer');
  return n;
};
const idArg = (v: string) => {
  const n = /^\d{1,15}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be an id (a positive integer)');
  return n;
};
const isoTime = (v: string) => {
  if (Number.isNaN(Date.parse(v))) throw new InvalidArgumentError('must be an ISO 8601 time');
  return new Date(v).toISOString();
};
const limitArg = (v: string) => {
  const n = positiveInt(v);
  if (n < 1 || n > 100) throw new InvalidArgumentError('must be 1-100');
  return n;
};
const choice = (flags: string, description: string, values: readonly string[]) => new Option(flags, description).choices(values);
const json = () => new Option('--json', 'machine-readable output');

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

/** A key as tables show it: `prefix` is the same value as `display_prefix` (kept in --json for old scripts). */
const keyRow = <K extends { prefix: string }>({ prefix: _p, ...k }: K) => k;

const clip = (text: string | null, max: number) => (text && text.length > max ? `${text.slice(0, max - 1)}…` : text);

function table(rows: Record<string, unknown>[]): string {
  if (rows.length === 0) return '(none)';
  const cols = Object.keys(rows[0]!);
  // Objects print as JSON; everything else is a primitive here.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string -- objects are handled on the left
  const cell = (v: unknown) => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (vals: string[]) =>
    vals
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(cols), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(cols.map((c) => cell(r[c]))))].join('\n');
}

program
  .command('serve')
  .description('start the HTTP server')
  .option('--workers <n>', 'processes sharing the port, one per core with 0 (see docs/BENCHMARKS.md)', positiveInt, 1)
  .action(async (o: { workers: number }) => {
    const workers = workerCount(o.workers);
    if (workers > 1 && !isClusterWorker()) return runPrimary(workers);
    const { startServer } = await import('../server.js');
    const server = await startServer();
    const stop = async () => {
      await server.close();
      process.exit(0);
    };
    // A rejected shutdown must not be an unhandled rejection: report it and exit non-zero.
    const stopSafely = () =>
      void stop().catch((err: unknown) => {
        process.stderr.write(`lumengate: shutdown failed: ${String(err)}\n`);
        process.exit(1);
      });
    process.once('SIGINT', stopSafely);
    process.once('SIGTERM', stopSafely);
  });

// Account, key and usage commands call the same service functions as the /admin API.
const accounts = program.command('accounts').description('manage accounts');
accounts
  .command('create')
  .description('create an account')
  .addOption(choice('--plan <plan>', 'plan', PLANS).makeOptionMandatory())
  .option('--tokens <n>', 'plan tokens to grant', positiveInt, 0)
  .option('--package-tokens <n>', 'package (bonus) tokens to grant', positiveInt, 0)
  .option('--name <name>', 'display name', '')
  .addOption(json())
  .action(async (o: { plan: string; tokens: number; packageTokens: number; name: string; json?: boolean }) => {
    const a = await withDb((db) => service.createAccount(db, { name: o.name, plan: o.plan, tokens: o.tokens, package_tokens: o.packageTokens }));
    print(!!o.json, a, () => `account ${a.id} created (plan ${a.plan}, ${a.plan_tokens} tokens)`);
  });
accounts
  .command('list')
  .description('list accounts')
  .addOption(choice('--status <status>', 'only this status', ['active', 'suspended']))
  .addOption(json())
  .action(async (o: { status?: string; json?: boolean }) => {
    const rows = await withDb((db) => service.listAccounts(db, { status: o.status }));
    print(!!o.json, rows, () =>
      table(rows.map((a) => ({ id: a.id, name: a.name, plan: a.plan, balance: a.token_balance, plan_tokens: a.plan_tokens, package_tokens: a.package_tokens, status: a.status }))),
    );
  });
accounts
  .command('show')
  .description('one account with its keys and usage')
  .argument('<account>', 'account id', idArg)
  .addOption(json())
  .action(async (id: number, o: { json?: boolean }) => {
    const r = await withDb(async (db) => ({ ...(await service.getAccount(db, id)), keys: await service.listKeys(db, { accountId: id }), usage: await usageSummary(db, { accountId: id }) }));
    print(
      !!o.json,
      r,
      () =>
        `account ${r.id} ${r.name} (plan ${r.plan}, ${r.status}): balance ${r.token_balance}\n\nkeys:\n${table(r.keys.map(({ account_id: _a, revoked_at: _r, ...k }) => keyRow(k)))}\n\nusage:\n${table(r.usage.map(({ account_id: _a, ...u }) => u))}`,
    );
  });
accounts
  .command('plan')
  .description('change the plan of an account')
  .argument('<account>', 'account id', idArg)
  .addArgument(new Argument('<plan>', 'new plan').choices(PLANS))
  .option('--expires <iso>', 'plan expiry (ISO 8601), or "none"')
  .addOption(json())
  .action(async (account: number, plan: string, o: { expires?: string; json?: boolean }) => {
    const change: Record<string, unknown> = { plan };
    if (o.expires !== undefined) change.plan_expires_at = o.expires === 'none' ? null : o.expires;
    const a = await withDb((db) => service.updateAccount(db, account, change));
    print(!!o.json, a, () => `account ${a.id}: plan ${a.plan}${a.plan_expires_at ? ` until ${a.plan_expires_at}` : ''}`);
  });
for (const [cmd, status, verb] of [
  ['suspend', 'suspended', 'suspended: its keys are refused at once'],
  ['activate', 'active', 'active'],
] as const) {
  accounts
    .command(cmd)
    .description(cmd === 'suspend' ? 'suspend an account (all its keys stop working at once)' : 'reactivate a suspended account')
    .argument('<account>', 'account id', idArg)
    .addOption(json())
    .action(async (id: number, o: { json?: boolean }) => {
      // Saying so when nothing changed: a second suspend is not mistaken for having done something.
      const r = await withDb(async (db) => {
        const changed = (await service.getAccount(db, id)).status !== status;
        return { ...(await service.updateAccount(db, id, { status })), changed };
      });
      print(!!o.json, r, () => (r.changed ? `account ${r.id} ${verb}` : `account ${r.id} is already ${status}`));
    });
}

program
  .command('tokens')
  .description('token balances')
  .command('grant')
  .description('grant tokens to an account (plan tokens unless --package)')
  .argument('<account>', 'account id', idArg)
  .argument('<amount>', 'tokens to grant', positiveInt)
  .option('--package', 'grant package (bonus) tokens, spent after plan tokens and never expiring')
  .option('--note <text>', 'note kept in the ledger')
  .addOption(json())
  .action(async (account: number, amount: number, o: { package?: boolean; note?: string; json?: boolean }) => {
    const a = await withDb((db) => service.grant(db, account, { amount, pool: o.package ? 'package' : 'plan', note: o.note }));
    print(!!o.json, a, () => `account ${a.id}: balance ${a.token_balance} (plan ${a.plan_tokens}, package ${a.package_tokens})`);
  });

const keys = program.command('keys').description('manage API keys');
// --name is checked in the action, not by commander: commander checks required options before
// arguments, and `keys create` without an account would complain about --name.
keys
  .command('create')
  .description('create an API key (printed once)')
  .argument('<account>', 'account id', idArg)
  .option('--name <name>', 'key name (required)')
  .addOption(json())
  .action(async (account: number, o: { name?: string; json?: boolean }, cmd: Command) => {
    if (o.name === undefined) cmd.error("error: required option '--name <name>' not specified");
    const k = await withDb((db) => service.issueKey(db, account, { name: o.name }));
    print(!!o.json, k, () => `key ${k.id} for account ${k.account_id}: ${k.key}\n(shown once: store it now)`);
  });
keys
  .command('list')
  .description('list API keys (never the secret)')
  .option('--account <id>', 'only this account', idArg)
  .option('--all', 'include revoked keys')
  .addOption(json())
  .action(async (o: { account?: number; all?: boolean; json?: boolean }) => {
    const rows = await withDb((db) => service.listKeys(db, { accountId: o.account, includeRevoked: !!o.all }));
    print(!!o.json, rows, () => table(rows.map(keyRow)));
  });
keys
  .command('rename')
  .description('rename an API key')
  .argument('<id>', 'key id', idArg)
  .argument('<name>', 'new name')
  .addOption(json())
  .action(async (id: number, name: string, o: { json?: boolean }) => {
    const k = await withDb((db) => service.renameKey(db, id, { name }));
    print(!!o.json, k, () => `key ${k.id} renamed to ${k.name}`);
  });
keys
  .command('revoke')
  .description('revoke an API key at once')
  .argument('<id>', 'key id', idArg)
  .addOption(json())
  .action(async (id: number, o: { json?: boolean }) => {
    const revoked = await withDb((db) =>
      service.revokeKey(db, id).then(
        () => true,
        (err: unknown) => {
          if (err instanceof GatewayError && err.code === 'not_found') return false;
          throw err;
        },
      ),
    );
    print(!!o.json, { id, revoked }, () => (revoked ? `key ${id} revoked` : `no active key ${id}`));
    if (!revoked) process.exitCode = 1;
  });

program
  .command('usage')
  .description('requests and tokens per account and model')
  .option('--account <id>', 'only this account', idArg)
  .option('--since <iso>', 'from this instant (ISO 8601)', isoTime)
  .option('--until <iso>', 'before this instant (ISO 8601)', isoTime)
  .addOption(json())
  .action(async (o: { account?: number; since?: string; until?: string; json?: boolean }) => {
    const rows = await withDb((db) => usageSummary(db, { accountId: o.account, since: o.since, until: o.until }));
    print(!!o.json, rows, () => table(rows as unknown as Record<string, unknown>[]));
  });

const generations = program.command('generations').description('generation history');
generations
  .command('list')
  .description('list generations, newest first')
  .option('--account <id>', 'only this account', idArg)
  .option('--model <slug>', 'only this model')
  .addOption(choice('--category <c>', 'only this category', CATEGORIES))
  .addOption(choice('--status <s>', 'only this status', STATUSES))
  .option('--limit <n>', 'at most n (1-100)', limitArg, 20)
  .option('--cursor <c>', 'next_cursor of a previous page')
  .option('--deleted', 'include generations their owner deleted')
  .addOption(json())
  .action(async (o: { account?: number; model?: string; category?: string; status?: string; limit: number; cursor?: string; deleted?: boolean; json?: boolean }) => {
    const catalog = loadCatalog(settingsFromEnv().configPath);
    const filter = parseHistoryQuery(
      {
        account_id: o.account && String(o.account),
        model_slug: o.model,
        category: o.category,
        status: o.status,
        limit: String(o.limit),
        cursor: o.cursor,
        include_deleted: o.deleted ? 'true' : undefined,
      },
      { admin: true },
    );
    const page = await withDb((db) => listHistory(db, catalog, filter));
    print(
      !!o.json,
      page,
      () =>
        `${table(page.items.map((g) => ({ id: g.id, account: (g as { account_id?: number }).account_id ?? '', model: g.model_slug, status: g.status, tokens: g.tokens_spent, created_at: g.created_at, error: clip(g.error, 60) })))}${page.next_cursor ? `\n(more: --cursor ${page.next_cursor})` : ''}`,
    );
  });
generations
  .command('show')
  .description('one generation: prompt, result, error, usage and route')
  .argument('<id>', 'generation id', idArg)
  .addOption(json())
  .action(async (id: number, o: { json?: boolean }) => {
    const catalog = loadCatalog(settingsFromEnv().configPath);
    const g = await withDb((db) => findGeneration(db, id));
    if (!g) throw new GatewayError('not_found', `generation ${id} not found`);
    const r = {
      ...historyItem(g, catalog),
      account_id: g.account_id,
      api_key_id: g.api_key_id,
      route: g.route,
      finish_reason: g.finish_reason,
      usage: g.usage_json ? (JSON.parse(g.usage_json) as unknown) : null,
      deleted_at: g.deleted_at,
    };
    print(!!o.json, r, () =>
      Object.entries({
        id: r.id,
        account: r.account_id,
        key: r.api_key_id,
        model: r.model_slug,
        status: r.status,
        tokens: r.tokens_spent,
        route: r.route,
        finish_reason: r.finish_reason,
        created_at: r.created_at,
        completed_at: r.completed_at,
        deleted_at: r.deleted_at,
        usage: r.usage && JSON.stringify(r.usage),
        error: r.error,
        prompt: r.prompt,
        result: r.result_text,
      })
        .filter(([, v]) => v !== null && v !== undefined)
        .map(([k, v]) => `${`${k}:`.padEnd(15)}${String(v)}`)
        .join('\n'),
    );
  });

const models = program.command('models').description('model catalog and local model files');
models
  .command('pull <uri>')
  .description('download a GGUF model (hf:user/repo:quant or https URL) into LUMENGATE_MODELS_DIR, with progress')
  .option('--as <file>', 'file name to save it under (then route a catalog model to that name)')
  .addOption(json())
  .action(async (uri: string, o: { json?: boolean; as?: string }) => {
    const [{ pullModel }, { createPullProgressPrinter }] = await Promise.all([import('../providers/local/model-files.js'), import('../providers/local/pull-progress.js')]);
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
models
  .command('list')
  .description("list models and whether a provider is configured: as this shell's environment sees it, or a running server with --url")
  .option('--url <url>', 'ask the server at this URL instead (its environment, and the Ollama/vLLM models it discovered)')
  .addOption(json())
  .action(async (o: { json?: boolean; url?: string }) => {
    if (o.url) {
      const rows = await serverModels(o.url);
      print(!!o.json, rows, () => `${table(rows)}\n(models of the server at ${o.url})`);
      return;
    }
    const [{ buildProviders }, { modelAvailability }] = await Promise.all([import('../providers/registry.js'), import('../generation/availability.js')]);
    const s = settingsFromEnv();
    const catalog = loadCatalog(s.configPath);
    const providers = buildProviders(catalog.providers, s.env);
    // The same answer as the API's `available` / `unavailable_reason` (a missing local file included).
    const rows = await Promise.all(
      catalog.models.map(async (m) => {
        const { available, unavailable_reason } = await modelAvailability({ catalog, providers }, m);
        const ready = available ? m.routes.find((r) => providers.get(r.provider)) : undefined;
        return {
          slug: m.slug,
          category: m.category,
          min_plan: m.min_plan,
          token_cost: m.token_cost,
          streaming: m.supports_streaming,
          available,
          unavailable_reason,
          route: ready ? `${ready.provider}:${ready.model}` : unavailable_reason,
        };
      }),
    );
    print(
      !!o.json,
      rows,
      () => `${table(rows)}\n(as this shell's environment and LUMENGATE_CONFIG configure them; a running server's view, with its discovered Ollama/vLLM models: --url http://127.0.0.1:8080)`,
    );
  });

/** GET /api/v2/models of a running server, as rows of `models list`. */
async function serverModels(url: string): Promise<Record<string, unknown>[]> {
  const res = await fetch(new URL('/api/v2/models', url)).catch((err: Error & { cause?: { code?: string; message?: string } }) => {
    throw new Error(`cannot reach ${url}: ${err.cause?.code ?? err.cause?.message ?? err.message}`);
  });
  if (!res.ok) throw new Error(`HTTP ${res.status} from ${url}`);
  const body = (await res.json()) as { models: { slug: string; category: string; min_plan: string; token_cost: number; supports_streaming: boolean; available: boolean; provider: string }[] };
  return body.models.map((m) => ({
    slug: m.slug,
    category: m.category,
    min_plan: m.min_plan,
    token_cost: m.token_cost,
    streaming: m.supports_streaming,
    available: m.available,
    provider: m.provider,
  }));
}

registerChat(program);
registerGenerate(program);

program.parseAsync().catch((err: unknown) => {
  process.stderr.write(`${PREFIX}${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
