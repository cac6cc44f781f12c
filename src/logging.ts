// Logger configuration: nothing secret reaches a log line. Headers are never logged (the request
// serializer keeps method, path, host and peer), Authorization and key-like fields are redacted
// wherever they appear, and secrets pasted into URLs (nb_ keys, ?api_key=…, the admin token) are
// masked before the URL is written, also when they were percent-encoded (the URL is logged decoded).
import type { LoggerOptions } from 'pino';
import { ADMIN_TOKEN_ENV } from './admin/token.js';

// `sig`: a result URL's signature (src/storage/signed-urls.ts) makes the URL a bearer link to the file until it expires.
const SECRET_QUERY = /([?&][^=&#]*(?:key|token|auth|secret|password|sig)[^=&#]*=)[^&#]*/gi;
const NB_KEY = /nb_[A-Za-z0-9_-]+/gi;

/**
 * Percent-decoding for the log: repeated (a double-encoded secret is still a secret) and never
 * throwing on a bad escape (those bytes are decoded one by one). Masking runs on this form, so
 * `nb%5F…` or a fully encoded admin token cannot slip past the patterns.
 */
function decodeForLog(url: string): string {
  let out = url;
  for (let i = 0; i < 4 && out.includes('%'); i++) {
    let next: string;
    try {
      next = decodeURIComponent(out);
    } catch {
      next = out.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    }
    if (next === out) break;
    out = next;
  }
  return out;
}

/** The URL as logged: percent-decoded, then keys, secret-looking query values and `extraSecrets` masked. */
export function maskUrl(url: string, extraSecrets: string[] = []): string {
  let out = decodeForLog(url).replace(SECRET_QUERY, '$1[redacted]').replace(NB_KEY, 'nb_[redacted]');
  for (const s of extraSecrets) if (s) out = out.split(s).join('[redacted]').split(encodeURIComponent(s)).join('[redacted]');
  return out;
}

interface LoggedRequest {
  method?: string;
  url?: string;
  host?: string;
  ip?: string;
  socket?: { remotePort?: number };
}

export function loggerOptions(level: string, env: NodeJS.ProcessEnv = process.env): LoggerOptions {
  const adminToken = env[ADMIN_TOKEN_ENV] ?? '';
  return {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'headers.authorization',
        '*.headers.authorization',
        '*.authorization',
        'authorization',
        '*.key',
        '*.api_key',
        '*.apiKey',
        '*.token',
        '*.admin_token',
        '*.password',
        'key',
        'api_key',
        'token',
        'req.headers.cookie',
        'req.headers["x-api-key"]',
      ],
      censor: '[redacted]',
    },
    serializers: {
      req: (req: LoggedRequest) => ({
        method: req.method,
        url: typeof req.url === 'string' ? maskUrl(req.url, [adminToken]) : undefined,
        host: req.host,
        remoteAddress: req.ip,
        remotePort: req.socket?.remotePort,
      }),
    },
  };
}
