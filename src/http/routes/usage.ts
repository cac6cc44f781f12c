// GET /api/v2/user/usage?days=30: the caller's tokens spent and requests per UTC day and model
// (the dashboard's chart). Deleted history items still count: their tokens were spent.
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { zodToApiError } from '../../generation/request.js';
import { dailyUsage } from '../../generation/store.js';
import { safeParseReporting } from '../../core/zod-parse.js';

export type { DailyUsageRow } from '../../generation/store.js';

export const usageQuery = z.looseObject({
  days: z
    .string()
    .regex(/^\d{1,3}$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(1).max(366))
    .optional(),
});

/** First UTC day (YYYY-MM-DD) of a window of `days` days ending today. */
export function windowStart(days: number, now = new Date()): string {
  const start = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() - (days - 1)));
  return start.toISOString().slice(0, 10);
}

export async function usageRoutes(app: FastifyInstance): Promise<void> {
  const { db } = app.services;

  app.get('/api/v2/user/usage', async (req) => {
    const { account } = await app.authenticate(req);
    const parsed = safeParseReporting(usageQuery, req.query ?? {});
    if (!parsed.success) throw zodToApiError(parsed.error);
    const days = parsed.data.days ?? 30;
    const from = windowStart(days);
    return { days, from, rows: await dailyUsage(db, account.id, from) };
  });
}
