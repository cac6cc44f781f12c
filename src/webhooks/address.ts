// Where a webhook may go (docs/api.md): a callback URL must not turn the gateway into a proxy
// into its own network (server-side request forgery). By default only https URLs whose host
// resolves to public addresses; the operator may allow http and private addresses for testing and
// intranets, for every host or for named ones.
import { BlockList, isIP } from 'node:net';

export interface WebhookPolicy {
  /** LUMENGATE_WEBHOOK_ALLOW_PRIVATE=true: any scheme of http/https, any address. */
  allowPrivate: boolean;
  /** LUMENGATE_WEBHOOK_ALLOW_HOSTS: hosts (names or IP literals, as written in the URL) allowed http and private addresses. */
  allowHosts: ReadonlySet<string>;
}

// Everything that is not a unicast address of the public Internet (IANA special-purpose registries).
const blocked = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  blocked.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [
  // ::/96 holds :: (unspecified), ::1 (loopback) and the deprecated IPv4-compatible addresses.
  ['::', 96],
  ['64:ff9b::', 96],
  ['64:ff9b:1::', 48],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const)
  blocked.addSubnet(net, bits, 'ipv6');

/** True for an address on the public Internet; false for loopback, private, link-local, CGNAT, multicast, … */
export function isPublicAddress(address: string): boolean {
  const bare = address.split('%')[0]!; // a zone (fe80::1%eth0) is link-local anyway
  const family = isIP(bare);
  if (family === 0) return false;
  if (family === 4) return !blocked.check(bare, 'ipv4');
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d) reaches the IPv4 address: judge that one.
  const g = ipv6Groups(bare);
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return !blocked.check(`${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`, 'ipv4');
  return !blocked.check(bare, 'ipv6');
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded, a trailing dotted quad folded). */
function ipv6Groups(address: string): number[] {
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(address);
  const a = quad ? `${address.slice(0, quad.index)}${((+quad[1]! << 8) | +quad[2]!).toString(16)}:${((+quad[3]! << 8) | +quad[4]!).toString(16)}` : address;
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((x) => parseInt(x, 16));
}

/** The URL's host as the policy names it: brackets of an IPv6 literal removed, lower case. */
export const hostOf = (url: URL): string => url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();

/** True when the operator lets this host use http and private addresses. */
export const isTrustedHost = (policy: WebhookPolicy, host: string): boolean => policy.allowPrivate || policy.allowHosts.has(host);

/**
 * Request time: what is wrong with the URL, or null. No DNS here (the answer could change before
 * delivery anyway): names are resolved and checked again at delivery, IP literals are judged now.
 */
export function urlProblem(raw: string, policy: WebhookPolicy): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'not a valid absolute URL';
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be an https URL';
  if (url.username || url.password) return 'must not contain credentials';
  const host = hostOf(url);
  if (isTrustedHost(policy, host)) return null;
  if (url.protocol !== 'https:') return 'must be an https URL (the operator allows http only for hosts in LUMENGATE_WEBHOOK_ALLOW_HOSTS)';
  if (isIP(host) && !isPublicAddress(host)) return 'must be on a public address (loopback, private, link-local and similar addresses are refused)';
  return null;
}
