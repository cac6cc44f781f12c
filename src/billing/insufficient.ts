// The 402 answer: what the request costs, what the account has, and how to get more. Balances are
// prepaid credits ("tokens" in field names), charged per request by model, not LLM tokens.
import type { Db } from '../db/connect.js';
import { GatewayError } from '../core/errors.js';

export async function insufficientCredits(db: Db, accountId: number, modelSlug: string, price: number): Promise<GatewayError> {
  const row = await db.kysely.selectFrom('accounts').select(['plan_tokens', 'package_tokens']).where('id', '=', accountId).executeTakeFirst();
  const balance = row ? row.plan_tokens + row.package_tokens : 0;
  const missing = Math.max(1, price - balance);
  return new GatewayError(
    'insufficient_tokens',
    `insufficient credits: model "${modelSlug}" costs ${price} credit${price === 1 ? '' : 's'} per request and this account has ${balance}. ` +
      `To top up, ask the operator (lumengate tokens grant ${accountId} ${missing}); the dashboard (/dashboard) shows the balance.`,
    { required: price, balance, model: modelSlug },
  );
}
