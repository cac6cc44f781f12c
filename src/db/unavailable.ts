// Recognises "the database is not there right now" (server restarting, connection dropped, pool
// exhausted, SQLite file locked) as opposed to a bug: such errors become a JSON 503 and retries.
import { isBusy } from './busy.js';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'SQLITE_BUSY', 'SQLITE_LOCKED']);
// PostgreSQL SQLSTATEs: class 08 connection exception; shutdown and start-up; too many connections.
const PG_STATES = new Set(['57P01', '57P02', '57P03', '53300', '53400']);
const MESSAGES = [
  'Connection terminated',
  'connection error and is not queryable',
  'timeout exceeded when trying to connect',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end',
];

/** What the client is told (503): a lock held past BUSY_LIMIT_MS is "busy", anything else "unavailable". */
export const unavailableMessage = (err: unknown): string =>
  isBusy(err) || isBusy((err as { cause?: unknown } | null)?.cause) ? 'database busy, retry shortly' : 'database unavailable, retry shortly';

export function isDatabaseUnavailable(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== 'object' || depth > 3) return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  if (NETWORK_CODES.has(code) || PG_STATES.has(code) || /^08/.test(code) || isBusy(err)) return true;
  if (typeof e.message === 'string' && MESSAGES.some((m) => (e.message as string).includes(m))) return true;
  // Node reports a refused dual-stack connect as an AggregateError of per-address errors.
  if (Array.isArray(e.errors) && e.errors.some((x) => isDatabaseUnavailable(x, depth + 1))) return true;
  return isDatabaseUnavailable(e.cause, depth + 1);
}
