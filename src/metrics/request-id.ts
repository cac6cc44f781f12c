// Request ids: an incoming x-request-id is honoured when it is sane (short, printable, no
// spaces), otherwise a fresh UUID. The id is in every log line (reqId) and the response header.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const SANE = /^[A-Za-z0-9._:@/+=-]{1,128}$/;

export function requestId(req: IncomingMessage): string {
  const incoming = req.headers['x-request-id'];
  return typeof incoming === 'string' && SANE.test(incoming) ? incoming : randomUUID();
}
