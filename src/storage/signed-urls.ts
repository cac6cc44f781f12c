// Result URLs (docs/api.md): /files/<generation id>/<name>?expires=<unix s>&sig=<hex HMAC-SHA256>.
// The signature is the only authorisation of GET /files, so the URL can be handed to a browser or
// an <img> tag without the API key; it is signed afresh on every read of the generation.
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/connect.js';
import { nowIso } from '../db/connect.js';

export interface UrlSigner {
  /** The path and query of a URL for `key` ("<generation id>/<name>"), valid for the configured time. */
  sign(key: string): string;
  /** True when `sig` is this gateway's signature of key and expires, and expires is not past. */
  verify(key: string, expires: string | undefined, sig: string | undefined): boolean;
}

export function urlSigner(secret: string, ttlMs: number, clock: () => number = Date.now): UrlSigner {
  // The key and the instant are both signed: changing either (or the secret) changes the signature.
  const mac = (key: string, expires: string) => createHmac('sha256', secret).update(`${key}\n${expires}`).digest();
  return {
    sign(key) {
      const expires = String(Math.floor((clock() + ttlMs) / 1000));
      return `/files/${key}?expires=${expires}&sig=${mac(key, expires).toString('hex')}`;
    },
    verify(key, expires, sig) {
      if (!expires || !sig || !/^\d{1,12}$/.test(expires) || !/^[0-9a-f]{64}$/.test(sig)) return false;
      if (Number(expires) * 1000 <= clock()) return false;
      return timingSafeEqual(mac(key, expires), Buffer.from(sig, 'hex'));
    },
  };
}

const SECRET_NAME = 'url_secret';

/**
 * LUMENGATE_URL_SECRET, or the one generated at the first start and kept in the database: it then
 * survives restarts and every instance sharing a PostgreSQL database signs with the same secret.
 * Insert-if-absent then read back, so two instances starting together agree on the first one.
 */
export async function urlSecretOf(db: Db, configured: string | undefined): Promise<string> {
  if (configured) return configured;
  await db.kysely
    .insertInto('gateway_settings')
    .values({ name: SECRET_NAME, value: randomBytes(32).toString('hex'), created_at: nowIso() })
    .onConflict((oc) => oc.column('name').doNothing())
    .execute();
  const row = await db.kysely.selectFrom('gateway_settings').select('value').where('name', '=', SECRET_NAME).executeTakeFirstOrThrow();
  return row.value;
}
