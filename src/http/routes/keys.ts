// Self-service API keys (docs/api.md), always scoped to the caller's account: another
// account's key id answers 404 exactly like a key that does not exist.
import type { FastifyInstance } from 'fastify';
import { issueKey, listKeys, parseId, renameKey, revokeKey } from '../../accounts/service.js';

export async function keyRoutes(app: FastifyInstance): Promise<void> {
  const { db } = app.services;

  app.post('/api/v2/keys', async (req, reply) => {
    const { account } = await app.authenticate(req);
    const k = await issueKey(db, account.id, req.body);
    // The secret is in this body only: no cache may keep it.
    return reply.code(201).header('cache-control', 'no-store').send({ id: k.id, name: k.name, key: k.key, prefix: k.prefix, display_prefix: k.display_prefix, created_at: k.created_at });
  });

  app.get('/api/v2/keys', async (req) => {
    const { account, key } = await app.authenticate(req);
    const keys = (await listKeys(db, { accountId: account.id })).map(({ account_id: _a, revoked_at: _r, ...k }) => ({ ...k, current: k.id === key.id }));
    return { keys, total: keys.length };
  });

  app.patch<{ Params: { id: string } }>('/api/v2/keys/:id', async (req) => {
    const { account } = await app.authenticate(req);
    const { account_id: _a, revoked_at: _r, ...k } = await renameKey(db, parseId(req.params.id, 'key'), req.body, account.id);
    return k;
  });

  app.delete<{ Params: { id: string } }>('/api/v2/keys/:id', async (req, reply) => {
    const { account } = await app.authenticate(req);
    await revokeKey(db, parseId(req.params.id, 'key'), account.id);
    return reply.code(204).send();
  });
}
