// Balance endpoints. Both documented shapes: /api/v2/balance and /api/v2/user/balance.
import type { FastifyInstance } from 'fastify';

export async function balanceRoutes(app: FastifyInstance): Promise<void> {
  app.get('/api/v2/balance', async (req) => {
    const { account } = await app.authenticate(req);
    return { token_balance: account.plan_tokens + account.package_tokens, plan: account.plan, plan_expires_at: account.plan_expires_at };
  });

  app.get('/api/v2/user/balance', async (req) => {
    const { account } = await app.authenticate(req);
    return {
      plan: account.plan,
      token_balance: account.plan_tokens + account.package_tokens,
      plan_tokens_remaining: account.plan_tokens,
      bonus_tokens: account.package_tokens,
      plan_expires_at: account.plan_expires_at,
      next_refill_at: null,
    };
  });
}
