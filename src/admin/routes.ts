// The operator API under /admin, authorised by LUMENGATE_ADMIN_TOKEN as a Bearer token (never an
// nb_ key). The same service functions back the CLI. Not registered at all when the token is unset.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { PLANS } from '../config/catalog.js';
import { GatewayError, clip } from '../core/errors.js';
import { zodToApiError } from '../generation/request.js';
import { listHistory, parseHistoryQuery, historyItem } from '../generation/history.js';
import { generationObject } from '../generation/object.js';
import { findGeneration, usageSummary } from '../generation/store.js';
import { createAccount, getAccount, grant, issueKey, listAccounts, listKeys, parseId, renameKey, revokeKey, updateAccount } from '../accounts/service.js';
import { adminTokenFromEnv, adminTokenMatcher } from './token.js';
import { safeParseReporting } from '../core/zod-parse.js';

const idText = z
  .string()
  .regex(/^\d{1,9}$/, 'must be an integer')
  .transform(Number);
const accountsQuery = z.looseObject({ status: z.enum(['active', 'suspended']).optional(), plan: z.enum(PLANS).optional() });
const keysQuery = z.looseObject({ account_id: idText.optional(), include_revoked: z.enum(['true', 'false']).optional() });
const usageQuery = z.looseObject({ account_id: idText.optional(), since: z.iso.datetime({ offset: true }).optional(), until: z.iso.datetime({ offset: true }).optional() });

function query<S extends z.ZodType>(schema: S, q: unknown): z.output<S> {
  const r = safeParseReporting(schema, q ?? {});
  if (!r.success) throw zodToApiError(r.error);
  return r.data;
}

export async function adminRoutes(app: FastifyInstance): Promise<void> {
  const token = adminTokenFromEnv(app.services.settings.env);
  if (token === null) return;
  const matches = adminTokenMatcher(token);
  const { db, catalog } = app.services;

  await app.register(
    async (admin) => {
      const authorise = async (req: FastifyRequest, reply: FastifyReply) => {
        const m = /^Bearer +(\S+) *$/i.exec(req.headers.authorization ?? '');
        if (!m?.[1] || !matches(m[1])) {
          req.log.warn({ url: req.routeOptions.url ?? 'unknown' }, 'admin request refused');
          void reply.header('www-authenticate', 'Bearer realm="lumengate-admin"');
          throw new GatewayError('not_authenticated', 'admin token required: Authorization: Bearer <LUMENGATE_ADMIN_TOKEN>');
        }
        // Admin answers are never cached anywhere.
        void reply.header('cache-control', 'no-store');
      };
      admin.addHook('onRequest', authorise);
      // Unknown /admin paths are refused before they are answered, so the route list does not leak.
      admin.setNotFoundHandler({ preHandler: authorise }, (req, reply) => {
        void reply.code(404).send(new GatewayError('not_found', `no route ${clip(req.method)} ${clip(req.url.split('?')[0]!)}`).body());
      });

      type IdParams = { Params: { id: string } };

      admin.get('/openapi.json', { schema: { hide: true } }, async () => app.adminOpenapi());

      admin.get('/accounts', async (req) => {
        const q = query(accountsQuery, req.query);
        const accounts = await listAccounts(db, q);
        return { accounts, total: accounts.length };
      });
      admin.post('/accounts', async (req, reply) => reply.code(201).send(await createAccount(db, req.body)));
      admin.get<IdParams>('/accounts/:id', async (req) => {
        const id = parseId(req.params.id, 'account');
        return { ...(await getAccount(db, id)), keys: await listKeys(db, { accountId: id }), usage: await usageSummary(db, { accountId: id }) };
      });
      admin.patch<IdParams>('/accounts/:id', async (req) => updateAccount(db, parseId(req.params.id, 'account'), req.body));
      admin.post<IdParams>('/accounts/:id/grants', async (req) => grant(db, parseId(req.params.id, 'account'), req.body));
      admin.post<IdParams>('/accounts/:id/suspend', async (req) => updateAccount(db, parseId(req.params.id, 'account'), { status: 'suspended' }));
      admin.post<IdParams>('/accounts/:id/activate', async (req) => updateAccount(db, parseId(req.params.id, 'account'), { status: 'active' }));
      admin.post<IdParams>('/accounts/:id/keys', async (req, reply) => {
        const k = await issueKey(db, parseId(req.params.id, 'account'), req.body);
        return reply.code(201).send(k);
      });

      admin.get('/keys', async (req) => {
        const q = query(keysQuery, req.query);
        const keys = await listKeys(db, { accountId: q.account_id, includeRevoked: q.include_revoked === 'true' });
        return { keys, total: keys.length };
      });
      admin.patch<IdParams>('/keys/:id', async (req) => renameKey(db, parseId(req.params.id, 'key'), req.body));
      admin.delete<IdParams>('/keys/:id', async (req, reply) => {
        await revokeKey(db, parseId(req.params.id, 'key'));
        return reply.code(204).send();
      });

      admin.get('/generations', async (req) => listHistory(db, catalog, parseHistoryQuery(req.query, { admin: true })));
      admin.get<IdParams>('/generations/:id', async (req) => {
        const id = parseId(req.params.id, 'generation');
        const g = await findGeneration(db, id);
        if (!g) throw new GatewayError('not_found', `generation ${id} not found`, { generation_id: id });
        return { ...generationObject(g, null), ...historyItem(g, catalog), account_id: g.account_id, api_key_id: g.api_key_id, route: g.route, deleted_at: g.deleted_at };
      });

      admin.get('/usage', async (req) => {
        const q = query(usageQuery, req.query);
        const rows = await usageSummary(db, { accountId: q.account_id, since: q.since, until: q.until });
        const totals = rows.reduce((t, r) => ({ requests: t.requests + r.requests, tokens_spent: t.tokens_spent + r.tokens_spent }), { requests: 0, tokens_spent: 0 });
        return { usage: rows, totals };
      });
    },
    { prefix: '/admin' },
  );
}
