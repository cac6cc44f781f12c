// The account's webhook secret (docs/api.md): signs every delivery to that account's callback
// URLs. Like a key it is shown in full only when created or rotated; afterwards only its prefix.
// Deliveries are signed with the secret current at each attempt, so a rotation applies to retries too.
import { randomBytes } from 'node:crypto';
import type { Db } from '../db/connect.js';
import { nowIso } from '../db/connect.js';

export interface WebhookSecretInfo {
  /** The whole secret: only in the answer that created it. */
  secret?: string;
  prefix: string;
  created_at: string;
}

const PREFIX_CHARS = 10;

export async function webhookSecretOf(db: Db, accountId: number): Promise<string | undefined> {
  const row = await db.kysely.selectFrom('webhook_secrets').select('secret').where('account_id', '=', accountId).executeTakeFirst();
  return row?.secret;
}

export async function describeWebhookSecret(db: Db, accountId: number): Promise<WebhookSecretInfo | undefined> {
  const row = await db.kysely.selectFrom('webhook_secrets').select(['secret', 'created_at']).where('account_id', '=', accountId).executeTakeFirst();
  return row && { prefix: row.secret.slice(0, PREFIX_CHARS), created_at: row.created_at };
}

/** Creates the account's secret, or replaces it: the old one stops signing at once. */
export async function rotateWebhookSecret(db: Db, accountId: number): Promise<Required<WebhookSecretInfo>> {
  const secret = `whsec_${randomBytes(32).toString('base64url')}`;
  const created_at = nowIso();
  await db.kysely
    .insertInto('webhook_secrets')
    .values({ account_id: accountId, secret, created_at })
    .onConflict((oc) => oc.column('account_id').doUpdateSet({ secret, created_at }))
    .execute();
  return { secret, prefix: secret.slice(0, PREFIX_CHARS), created_at };
}
