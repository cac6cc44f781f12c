// GET /api/v2/user/usage?days=30: the caller's tokens spent and requests per UTC day and model
// (the dashboard's chart). Deleted history items still count: their tokens were spent.
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import type { Db } from '../../db/connect.js';
import { zodToApiError } from '../../generation/request.js';

const usageQuery = z.looseObject({
  days: z.string().regex(/^\d{1,3}$/, 'must be an integer').transform(Number).pipe(z.number().int().min(1).max(366)).optional(),
});

export interface DailyUsageRow {
  /** UTC day, YYYY-MM-DD. */
  day: string;
  model_slug: string;
  tokens_spent: number;
  requests: number;
}

/** First UTC day (YYYY-MM-DD) of a window of `days` days ending today. */
export function windowStart(days: number, now = new Date()): string {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - (days - 1)));
  return start.toISOString().slice(0, 10);
}

/**
 * Sums per day and model. created_at is an ISO-8601 UTC string on both engines, so its first ten
 * characters are the UTC day, and substr() means the same on SQLite and PostgreSQL.
 */
export async function dailyUsage(db: Db, accountId: number, from: string): Promise<DailyUsageRow[]> {
  const day = sql<string>`substr(created_at, 1, 10)`;
  const rows = await db.kysely.selectFrom('generations')
    .select([day.as('day'), 'model_slug'])
    .select((eb) => [eb.fn.sum<number>('tokens_spent').as('tokens_spent'), eb.fn.countAll<number>().as('requests')])
    .where('account_id', '=', accountId)
    .where('created_at', '>=', from)
    .groupBy([day, 'model_slug'])
    .orderBy(day).orderBy('model_slug')
    .execute();
  // PostgreSQL returns sum()/count() as strings (bigint/numeric).
  return rows.map((r) => ({ day: r.day, model_slug: r.model_slug, tokens_spent: Number(r.tokens_spent), requests: Number(r.requests) }));
}

export async function usageRoutes(app: FastifyInstance): Promise<void> {
  const { db } = app.services;

  app.get('/api/v2/user/usage', async (req) => {
    const { account } = await app.authenticate(req);
    const parsed = usageQuery.safeParse(req.query ?? {}, { reportInput: true });
    if (!parsed.success) throw zodToApiError(parsed.error);
    const days = parsed.data.days ?? 30;
    const from = windowStart(days);
    return { days, from, rows: await dailyUsage(db, account.id, from) };
  });
}
