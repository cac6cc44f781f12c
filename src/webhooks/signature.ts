// X-Lumengate-Signature (docs/api.md): t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">,
// keyed with the account's webhook secret. The timestamp is signed so a captured delivery cannot
// be replayed later; receivers check both (docs/api.md, "Webhooks").
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-lumengate-signature';

const mac = (secret: string, t: number, body: string) => createHmac('sha256', secret).update(`${t}.${body}`).digest('hex');

export function signatureHeader(secret: string, body: string, nowMs: number): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${mac(secret, t, body)}`;
}

/** The receiver's check: a v1 signature of this body by this secret, made within `toleranceS` of now. */
export function verifySignature(secret: string, body: string, header: string, nowMs: number, toleranceS = 300): boolean {
  const parts = new Map(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1');
  if (!Number.isInteger(t) || !v1 || !/^[0-9a-f]{64}$/.test(v1)) return false;
  if (Math.abs(nowMs / 1000 - t) > toleranceS) return false;
  return timingSafeEqual(Buffer.from(mac(secret, t, body), 'hex'), Buffer.from(v1, 'hex'));
}
