// The operator's admin token (LUMENGATE_ADMIN_TOKEN). Unset: the admin API does not exist (404).
// It is never an `nb_` key, is long enough not to be guessed, and is compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';

export const ADMIN_TOKEN_ENV = 'LUMENGATE_ADMIN_TOKEN';
export const MIN_ADMIN_TOKEN_LENGTH = 32;

/** The configured token, or null when the admin API is off. Throws on a weak or misplaced token. */
export function adminTokenFromEnv(env: NodeJS.ProcessEnv): string | null {
  const token = env[ADMIN_TOKEN_ENV];
  if (token === undefined || token === '') return null;
  if (token.startsWith('nb_')) throw new Error(`${ADMIN_TOKEN_ENV} must not be an nb_ API key: generate a separate secret (e.g. openssl rand -hex 32)`);
  if (token.length < MIN_ADMIN_TOKEN_LENGTH || /\s/.test(token)) {
    throw new Error(`${ADMIN_TOKEN_ENV} must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters without spaces (e.g. openssl rand -hex 32)`);
  }
  return token;
}

/** Constant-time check of a presented token: both sides are hashed so lengths never leak either. */
export function adminTokenMatcher(token: string): (presented: string) => boolean {
  const expected = createHash('sha256').update(token).digest();
  return (presented) => timingSafeEqual(createHash('sha256').update(presented).digest(), expected);
}
