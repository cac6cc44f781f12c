// Operator and self-service operations on accounts, keys and usage. The one implementation
// behind the CLI, the /admin API and the /api/v2/keys routes: input is validated here (zod), and
// failures are ApiErrors (404 not_found, 400/422) that the HTTP layer sends as they are and the
// CLI prints.
import { z } from 'zod';
import type { Db } from '../db/connect.js';
import { nowIso } from '../db/connect.js';
import { MAX_ROW_ID } from '../db/schema.js';
import { PLANS } from '../config/catalog.js';
import { grantTokens } from '../billing/ledger.js';
import { GatewayError } from '../core/errors.js';
import { zodToApiError } from '../generation/request.js';
import { createKeyWithinLimit, type CreatedKey } from './keys.js';
import { safeParseReporting } from '../core/zod-parse.js';

/** A grant larger than this is almost certainly a typo (and keeps sums far from 2^53). */
export const MAX_GRANT = 1_000_000_000_000;
/** Active keys per account: enough for any real deployment, bounded so a leaked key cannot fill the table. */
export const MAX_ACTIVE_KEYS = 100;

// Names are shown in tables and logs: printable, no control characters, bounded.
const name = z
  .string()
  .trim()
  .max(100, 'at most 100 characters')
  .regex(/^[^\p{Cc}\p{Cf}]*$/u, 'must not contain control characters');
const keyName = name.min(1, 'must not be empty');
const plan = z.enum(PLANS);
const id = z.number().int().positive().max(MAX_ROW_ID);
const isoTime = z.iso.datetime({ offset: true });

export const createAccountInput = z.strictObject({
  name: name.optional(),
  plan: plan,
  tokens: z.number().int().min(0).max(MAX_GRANT).optional(),
  package_tokens: z.number().int().min(0).max(MAX_GRANT).optional(),
  plan_expires_at: isoTime.nullable().optional(),
});
export const updateAccountInput = z.strictObject({
  name: name.optional(),
  plan: plan.optional(),
  plan_expires_at: isoTime.nullable().optional(),
  status: z.enum(['active', 'suspended']).optional(),
});
export const grantInput = z.strictObject({
  amount: z.number().int().min(1).max(MAX_GRANT),
  pool: z.enum(['plan', 'package']).default('plan'),
  note: z.string().max(500).optional(),
});
export const keyInput = z.strictObject({ name: keyName });

function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  if (input === undefined || input === null) throw new GatewayError('bad_request', 'request body is required: a JSON object');
  if (typeof input !== 'object' || Array.isArray(input)) throw new GatewayError('bad_request', 'request body must be a JSON object');
  const r = safeParseReporting(schema, input);
  if (!r.success) throw zodToApiError(r.error);
  return r.data;
}

/** An account as the API and CLI show it. */
export interface AccountView {
  id: number;
  name: string;
  plan: string;
  status: string;
  token_balance: number;
  plan_tokens: number;
  package_tokens: number;
  plan_expires_at: string | null;
  created_at: string;
}

type AccountRow = { id: number; name: string; plan: string; status: string; plan_tokens: number; package_tokens: number; plan_expires_at: string | null; created_at: string };
export const accountView = (a: AccountRow): AccountView => ({
  id: a.id,
  name: a.name,
  plan: a.plan,
  status: a.status,
  token_balance: a.plan_tokens + a.package_tokens,
  plan_tokens: a.plan_tokens,
  package_tokens: a.package_tokens,
  plan_expires_at: a.plan_expires_at,
  created_at: a.created_at,
});

export async function getAccount(db: Db, accountId: number): Promise<AccountView> {
  const a = await db.kysely.selectFrom('accounts').selectAll().where('id', '=', accountId).executeTakeFirst();
  if (!a) throw new GatewayError('not_found', `account ${accountId} not found`, { account_id: accountId });
  return accountView(a);
}

export async function listAccounts(db: Db, filter: { status?: string; plan?: string } = {}): Promise<AccountView[]> {
  let q = db.kysely.selectFrom('accounts').selectAll().orderBy('id');
  if (filter.status) q = q.where('status', '=', filter.status as 'active' | 'suspended');
  if (filter.plan) q = q.where('plan', '=', filter.plan);
  return (await q.execute()).map(accountView);
}

export async function createAccount(db: Db, input: unknown): Promise<AccountView> {
  const o = parse(createAccountInput, input);
  const row = await db.kysely
    .insertInto('accounts')
    .values({ name: o.name ?? '', plan: o.plan, plan_tokens: 0, package_tokens: 0, status: 'active', plan_expires_at: o.plan_expires_at ?? null, created_at: nowIso() })
    .returning('id')
    .executeTakeFirstOrThrow();
  if (o.tokens) await grantTokens(db, row.id, o.tokens, 'plan', 'initial plan tokens');
  if (o.package_tokens) await grantTokens(db, row.id, o.package_tokens, 'package', 'initial package tokens');
  return getAccount(db, row.id);
}

/** Plan change, rename, suspension. Suspension refuses every key of the account on its next request. */
export async function updateAccount(db: Db, accountId: number, input: unknown): Promise<AccountView> {
  const o = parse(updateAccountInput, input);
  await getAccount(db, accountId);
  const set: Record<string, unknown> = {};
  if (o.name !== undefined) set.name = o.name;
  if (o.plan !== undefined) set.plan = o.plan;
  if (o.plan_expires_at !== undefined) set.plan_expires_at = o.plan_expires_at;
  if (o.status !== undefined) set.status = o.status;
  if (Object.keys(set).length > 0) await db.kysely.updateTable('accounts').set(set).where('id', '=', accountId).execute();
  return getAccount(db, accountId);
}

export async function grant(db: Db, accountId: number, input: unknown): Promise<AccountView> {
  const o = parse(grantInput, input);
  await getAccount(db, accountId);
  await grantTokens(db, accountId, o.amount, o.pool, o.note ?? 'granted by operator');
  return getAccount(db, accountId);
}

/** A key as listings show it: never the secret, never the hash. */
export interface KeyView {
  id: number;
  account_id: number;
  name: string;
  prefix: string;
  display_prefix: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

type KeyRow = { id: number; account_id: number; name: string; display_prefix: string; created_at: string; last_used_at: string | null; revoked_at: string | null };
const keyView = (k: KeyRow): KeyView => ({
  id: k.id,
  account_id: k.account_id,
  name: k.name,
  prefix: k.display_prefix,
  display_prefix: k.display_prefix,
  created_at: k.created_at,
  last_used_at: k.last_used_at,
  revoked_at: k.revoked_at,
});
const keyColumns = ['id', 'account_id', 'name', 'display_prefix', 'created_at', 'last_used_at', 'revoked_at'] as const;

export async function listKeys(db: Db, filter: { accountId?: number; includeRevoked?: boolean } = {}): Promise<KeyView[]> {
  let q = db.kysely.selectFrom('api_keys').select(keyColumns).orderBy('id');
  if (filter.accountId !== undefined) q = q.where('account_id', '=', filter.accountId);
  if (!filter.includeRevoked) q = q.where('revoked_at', 'is', null);
  return (await q.execute()).map(keyView);
}

/** Creates a key; the returned `key` is the only time the secret exists outside its hash. */
export async function issueKey(db: Db, accountId: number, input: unknown): Promise<CreatedKey & { prefix: string }> {
  const o = parse(keyInput, input);
  await getAccount(db, accountId);
  // Check and insert are atomic (createKeyWithinLimit): 200 parallel requests create exactly the 100 allowed.
  const k = await createKeyWithinLimit(db, accountId, o.name, MAX_ACTIVE_KEYS);
  if (!k) {
    throw new GatewayError('validation_error', `an account may hold at most ${MAX_ACTIVE_KEYS} active keys: revoke one first`, {
      fields: [{ path: 'name', message: 'too many active keys' }],
      max_active_keys: MAX_ACTIVE_KEYS,
    });
  }
  return { ...k, prefix: k.display_prefix };
}

/** `accountId` scopes the lookup to one account: another account's key is "not found". */
async function findKey(db: Db, keyId: number, accountId?: number): Promise<KeyRow> {
  let q = db.kysely.selectFrom('api_keys').select(keyColumns).where('id', '=', keyId).where('revoked_at', 'is', null);
  if (accountId !== undefined) q = q.where('account_id', '=', accountId);
  const k = await q.executeTakeFirst();
  if (!k) throw new GatewayError('not_found', `key ${keyId} not found`, { key_id: keyId });
  return k;
}

export async function renameKey(db: Db, keyId: number, input: unknown, accountId?: number): Promise<KeyView> {
  const o = parse(keyInput, input);
  await findKey(db, keyId, accountId);
  await db.kysely.updateTable('api_keys').set({ name: o.name }).where('id', '=', keyId).execute();
  return keyView(await findKey(db, keyId, accountId));
}

/** Revokes at once: authentication reads the key row on every request. */
export async function revokeKey(db: Db, keyId: number, accountId?: number): Promise<void> {
  let q = db.kysely.updateTable('api_keys').set({ revoked_at: nowIso() }).where('id', '=', keyId).where('revoked_at', 'is', null);
  if (accountId !== undefined) q = q.where('account_id', '=', accountId);
  const r = await q.executeTakeFirst();
  if (Number(r.numUpdatedRows) === 0) throw new GatewayError('not_found', `key ${keyId} not found`, { key_id: keyId });
}

/** Parses an id given as text (CLI argument, path segment): digits only, a safe integer. */
export function parseId(text: string, what: string): number {
  const n = /^\d{1,15}$/.test(text) ? Number(text) : NaN;
  if (!id.safeParse(n).success) throw new GatewayError('not_found', `${what} ${JSON.stringify(text.slice(0, 40))} not found`);
  return n;
}
