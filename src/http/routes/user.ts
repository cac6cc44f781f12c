// The caller's own account: profile (/api/v2/user/me), generation history (/api/v2/user/history)
// and the webhook secret (/api/v2/user/webhook-secret).
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { PlanName } from '../../config/catalog.js';
import { parseId, updateAccount, getAccount } from '../../accounts/service.js';
import { tokensSpentSince } from '../../generation/store.js';
import { deleteGeneration, listHistory, parseHistoryQuery } from '../../generation/history.js';
import { zodToApiError } from '../../generation/request.js';
import { badRequest } from '../../core/errors.js';
import { describeWebhookSecret, rotateWebhookSecret } from '../../webhooks/secret.js';
import { safeParseReporting } from '../../core/zod-parse.js';

// EN page: name (+ avatar_url, not stored); RU page: username. Both set the account name.
export const profilePatch = z.strictObject({
  name: z.string().trim().min(1).max(100).optional(),
  username: z.string().trim().min(1).max(100).optional(),
});

export async function userRoutes(app: FastifyInstance): Promise<void> {
  const { db, catalog } = app.services;

  const profile = async (accountId: number, key: { id: number; name: string; display_prefix: string }) => {
    const a = await getAccount(db, accountId);
    const plan = catalog.plans[a.plan as PlanName];
    const monthStart = new Date();
    monthStart.setUTCDate(1);
    monthStart.setUTCHours(0, 0, 0, 0);
    const used = await tokensSpentSince(db, accountId, monthStart.toISOString());
    return {
      id: a.id,
      name: a.name,
      username: a.name,
      email: null,
      telegram_username: null,
      avatar_url: null,
      plan: a.plan,
      plan_expires_at: a.plan_expires_at,
      status: a.status,
      token_balance: a.token_balance,
      plan_tokens_remaining: a.plan_tokens,
      bonus_tokens: a.package_tokens,
      // lumengate has no monthly allowance: balances are granted by the operator.
      token_limit: null,
      tokens_used_this_period: used,
      // 0 = unlimited, as the docs say.
      rate_limit_hourly: plan?.requests_per_hour ?? 0,
      rate_limit_daily: plan?.requests_per_day ?? 0,
      auth_methods: { api_key: true, telegram: false, google: false, email: false },
      api_key: { id: key.id, name: key.name, prefix: key.display_prefix },
      created_at: a.created_at,
    };
  };

  app.get('/api/v2/user/me', async (req) => {
    const { account, key } = await app.authenticate(req);
    return profile(account.id, key);
  });

  app.patch('/api/v2/user/me', async (req) => {
    const { account, key } = await app.authenticate(req);
    if (req.body === undefined || req.body === null || typeof req.body !== 'object' || Array.isArray(req.body)) throw badRequest('request body must be a JSON object');
    const r = safeParseReporting(profilePatch, req.body);
    if (!r.success) throw zodToApiError(r.error);
    const name = r.data.name ?? r.data.username;
    if (name !== undefined) await updateAccount(db, account.id, { name });
    return profile(account.id, key);
  });

  app.get('/api/v2/user/history', async (req) => {
    const { account } = await app.authenticate(req);
    // Media items carry freshly signed file URLs, like GET /api/v2/generate/{id}.
    const links = app.services.files && { signer: app.services.files.signer, baseUrl: `${req.protocol}://${req.host}` };
    return listHistory(db, catalog, parseHistoryQuery(req.query, { accountId: account.id }), links);
  });

  // docs/api.md. GET shows only the prefix; POST creates or rotates the secret and is the only
  // answer with the whole of it.
  app.get('/api/v2/user/webhook-secret', async (req) => {
    const { account } = await app.authenticate(req);
    const info = await describeWebhookSecret(db, account.id);
    return { exists: info !== undefined, prefix: info?.prefix ?? null, created_at: info?.created_at ?? null };
  });

  app.post('/api/v2/user/webhook-secret', async (req, reply) => {
    const { account } = await app.authenticate(req);
    return reply
      .code(201)
      .header('cache-control', 'no-store')
      .send(await rotateWebhookSecret(db, account.id));
  });

  app.delete<{ Params: { id: string } }>('/api/v2/user/history/:id', async (req, reply) => {
    const { account } = await app.authenticate(req);
    await deleteGeneration(db, parseId(req.params.id, 'generation'), account.id);
    return reply.code(204).send();
  });
}
