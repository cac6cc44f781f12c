// One HTTP attempt of a delivery. The receiver's name is resolved inside the connection's own
// lookup, and the checked addresses are the ones connected to: a DNS answer that changes between
// a check and the connect (rebinding) cannot slip a private address in. Redirects are not followed.
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import { hostOf, isPublicAddress, isTrustedHost, urlProblem, type WebhookPolicy } from './address.js';

/** Resolves a name to all its addresses (node's dns.lookup; tests inject their own). */
export type Resolver = (host: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (host) =>
  new Promise((resolve, reject) => {
    dnsLookup(host, { all: true, verbatim: true }, (err, addresses) => (err ? reject(err) : resolve(addresses)));
  });

/** The address policy refused the receiver: retrying cannot help. */
export class RefusedAddress extends Error {}

export interface AttemptResult {
  /** The receiver's HTTP status; null when none came (refused, network error, timeout). */
  status: number | null;
  ok: boolean;
  error?: string;
  /** Final: no retry can succeed (the policy refuses the URL or its addresses). */
  permanent?: boolean;
}

export interface Sender {
  send(url: string, body: string, headers: Record<string, string>): Promise<AttemptResult>;
  close(): Promise<void>;
}

/**
 * undici's connect lookup that lets a connection through only when every address of the name is
 * public (or the host is trusted): a mix would let the connection pick the private one. Also used
 * for media jobs' output downloads (src/jobs/outputs.ts).
 */
export function publicOnlyLookup(resolver: Resolver, trusted: (host: string) => boolean) {
  return (host: string, options: { all?: boolean }, callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void) => {
    resolver(host)
      .then((addresses) => {
        const bad = trusted(host) ? undefined : addresses.find((a) => !isPublicAddress(a.address));
        if (bad || addresses.length === 0) throw new RefusedAddress(`${host} resolves to ${bad ? `${bad.address}, which is not a public address` : 'no address'}`);
        if (options.all) callback(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      })
      .catch((err: Error) => callback(err, ''));
  };
}

export function createSender(policy: WebhookPolicy, opts: { timeoutMs: number; resolver?: Resolver }): Sender {
  const lookup = publicOnlyLookup(opts.resolver ?? systemResolver, (host) => isTrustedHost(policy, host.toLowerCase()));
  const agent = new Agent({
    connect: { lookup, timeout: opts.timeoutMs },
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    connections: 4,
  });

  return {
    async send(url, body, headers) {
      const problem = urlProblem(url, policy);
      if (problem) return { status: null, ok: false, error: `callback_url ${problem}`, permanent: true };
      // An IP literal is connected to without a lookup: judged here.
      const host = hostOf(new URL(url));
      if (isIP(host) && !isTrustedHost(policy, host) && !isPublicAddress(host)) {
        return { status: null, ok: false, error: `${host} is not a public address`, permanent: true };
      }
      try {
        const res = await request(url, {
          method: 'POST',
          body,
          headers: { 'content-type': 'application/json', 'user-agent': 'lumengate-webhooks', ...headers },
          // undici follows no redirect unless told to: a 3xx is a failed attempt.
          dispatcher: agent,
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
        await res.body.dump({ limit: 64 * 1024 });
        const ok = res.statusCode >= 200 && res.statusCode < 300;
        return ok ? { status: res.statusCode, ok } : { status: res.statusCode, ok, error: `receiver answered HTTP ${res.statusCode}` };
      } catch (err) {
        const refused = causeOf(err, RefusedAddress);
        if (refused) return { status: null, ok: false, error: refused.message, permanent: true };
        return { status: null, ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) };
      }
    },
    close: () => agent.close(),
  };
}

export function causeOf<T extends Error>(err: unknown, type: new (...args: never[]) => T): T | undefined {
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof type) return e;
  return undefined;
}
