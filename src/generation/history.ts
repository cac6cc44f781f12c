// Generation history: filters, page/limit and cursor pagination, deletion. Used by
// GET /api/v2/user/history (one account) and GET /admin/generations (any account).
import { z } from 'zod';
import type { Catalog } from '../config/catalog.js';
import type { Db } from '../db/connect.js';
import { isRowId, type Generation } from '../db/schema.js';
import { GatewayError, validationError } from '../core/errors.js';
import { zodToApiError } from './request.js';
import { generationObject, type ResultLinks } from './object.js';
import { historyPage, softDeleteGeneration } from './store.js';
import { deleteToolCallStatesOf } from './tool-call-state.js';
import { safeParseReporting } from '../core/zod-parse.js';

export const CATEGORIES = ['text', 'image', 'video', 'audio', 'tts', 'stt', 'tool'] as const;
export const STATUSES = ['pending', 'completed', 'failed'] as const;

// Query strings arrive as text; a repeated parameter arrives as an array and is refused (422).
const int = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'must be an integer')
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const bool = z.enum(['true', 'false', '1', '0']).transform((v) => v === 'true' || v === '1');

export const historyQuery = z.looseObject({
  page: int(1, 1_000_000).optional(),
  limit: int(1, 100).optional(),
  // Newer page: category / model_slug; older page: type / model (docs/api.md).
  category: z.enum(CATEGORIES).optional(),
  type: z.enum(CATEGORIES).optional(),
  model_slug: z.string().min(1).max(200).optional(),
  model: z.string().min(1).max(200).optional(),
  status: z.enum(STATUSES).optional(),
  favorites_only: bool.optional(),
  cursor: z.string().max(100).optional(),
  // Admin only (ignored on the self-service route).
  account_id: int(1, 999_999_999).optional(),
  include_deleted: bool.optional(),
});

export interface HistoryFilter {
  accountId?: number;
  category?: string;
  model?: string;
  status?: string;
  favoritesOnly?: boolean;
  includeDeleted?: boolean;
  /** Operator view: any account, with account_id and deleted_at on each item. */
  admin?: boolean;
  page: number;
  limit: number;
  /** Only ids below this one (cursor pagination, newest first). */
  beforeId?: number;
}

/** Cursors are opaque to clients; inside they are the last id seen. */
const encodeCursor = (id: number) => Buffer.from(`g:${id}`).toString('base64url');
function decodeCursor(cursor: string): number {
  const m = /^g:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString('latin1'));
  const id = m ? Number(m[1]) : NaN;
  if (!isRowId(id)) throw validationError([{ path: 'cursor', message: 'invalid cursor: pass next_cursor from a previous page' }]);
  return id;
}

export function parseHistoryQuery(query: unknown, scope: { accountId?: number; admin?: boolean }): HistoryFilter {
  const r = safeParseReporting(historyQuery, query ?? {});
  if (!r.success) throw zodToApiError(r.error);
  const q = r.data;
  const pick = (a: string | undefined, b: string | undefined, names: string) => {
    if (a !== undefined && b !== undefined && a !== b) throw validationError([{ path: names, message: 'both given with different values' }]);
    return a ?? b;
  };
  return {
    accountId: scope.admin ? q.account_id : scope.accountId,
    category: pick(q.category, q.type, 'category/type'),
    model: pick(q.model_slug, q.model, 'model_slug/model'),
    status: q.status,
    favoritesOnly: q.favorites_only,
    includeDeleted: scope.admin ? q.include_deleted : false,
    admin: scope.admin === true,
    page: q.page ?? 1,
    limit: q.limit ?? 20,
    beforeId: q.cursor !== undefined ? decodeCursor(q.cursor) : undefined,
  };
}

/**
 * A history item: the newer page's shape plus the older page's names (same values). With `links`
 * a media item's result_url / thumbnail_url are signed afresh (as GET /api/v2/generate/{id} does),
 * so a list can show previews without a request per row; result_metadata and finish_reason are the
 * generation object's.
 */
export function historyItem(g: Generation, catalog: Catalog, links?: ResultLinks) {
  const o = generationObject(g, null, links);
  return {
    id: g.id,
    model_slug: g.model_slug,
    model: g.model_slug,
    model_name: catalog.get(g.model_slug)?.name ?? g.model_slug,
    category: g.category,
    type: g.category,
    prompt: g.prompt,
    status: g.status,
    result_text: g.result_text,
    content: g.result_text,
    result_url: o.result_url,
    url: o.result_url,
    thumbnail_url: o.thumbnail_url,
    result_metadata: o.result_metadata,
    finish_reason: g.finish_reason,
    error: g.error,
    tokens_spent: g.tokens_spent,
    tokens_used: g.tokens_spent,
    is_favorited: false,
    user_rating: null,
    created_at: g.created_at,
    completed_at: g.completed_at,
  };
}

export async function listHistory(db: Db, catalog: Catalog, f: HistoryFilter, links?: ResultLinks) {
  const { rows, total } = await historyPage(db, { ...f, offset: (f.page - 1) * f.limit, limit: f.limit + 1 });
  const items = rows.slice(0, f.limit);
  return {
    items: items.map((g) => (f.admin ? { ...historyItem(g, catalog), account_id: g.account_id, deleted_at: g.deleted_at } : historyItem(g, catalog, links))),
    total,
    page: f.beforeId !== undefined ? null : f.page,
    limit: f.limit,
    pages: Math.ceil(total / f.limit),
    next_cursor: rows.length > f.limit ? encodeCursor(items.at(-1)!.id) : null,
  };
}

/**
 * Deletes a history item for its owner: hidden everywhere from then on, and its prompt and
 * result are erased, with the reasoning state of its tool calls. The row itself stays, because
 * the ledger refers to it.
 */
export async function deleteGeneration(db: Db, generationId: number, accountId: number): Promise<void> {
  if (!(await softDeleteGeneration(db, generationId, accountId))) throw new GatewayError('not_found', `generation ${generationId} not found`, { generation_id: generationId });
  await deleteToolCallStatesOf(db, generationId);
}
