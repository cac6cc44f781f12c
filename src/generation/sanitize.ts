// What clients may read of an upstream's failure (docs/api.md): the reason, never the gateway's
// own URLs, hosts, ports, file-system paths, credential fragments or upstream organisation ids.
// The full text goes to the operator's log instead.

const RULES: [RegExp, string][] = [
  // URLs first, whole (they hold hosts, ports and paths).
  [/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>)]+/gi, '[url]'],
  // Credentials: OpenAI/Anthropic style keys, bearer tokens, our own keys, long hex/base64 secrets.
  // Masked keys too ("sk-proj-****wxyz", as OpenAI echoes them): the visible tail is a fragment.
  [/\b(?:sk|pk|rk|nb|key|xai|gsk|AIza)[-_][A-Za-z0-9_*-]{2,}/g, '[key]'],
  [/\bBearer\s+\S+/gi, 'Bearer [key]'],
  // Organisation and project ids.
  [/\b(?:org|proj|user|acct)[-_][A-Za-z0-9]{4,}/g, '[id]'],
  // IPv4 addresses with an optional port, host:port pairs, localhost.
  [/\b\d{1,3}(?:\.\d{1,3}){3}(?::\d{1,5})?\b/g, '[host]'],
  [/\[[0-9a-f:]+\](?::\d{1,5})?/gi, '[host]'],
  [/\blocalhost(?::\d{1,5})?\b/gi, '[host]'],
  [/\b[a-z0-9-]+(?:\.[a-z0-9-]+)+:\d{1,5}\b/gi, '[host]'],
  // Absolute file-system paths (two or more segments), Unix and Windows.
  [/(?:^|(?<=[\s"'(=:]))\/(?:[\w.@-]+\/)+[\w.@-]*/g, '[path]'],
  [/\b[A-Z]:\\(?:[^\\\s]+\\)*[^\\\s]*/g, '[path]'],
];

/** Longest reason shown to a client. */
const MAX = 300;

export function sanitizeUpstreamText(text: string): string {
  // An HTML error page (a proxy's) says nothing useful to a client.
  if (/<(?:!doctype|html|head|body)\b/i.test(text)) return 'the upstream answered with an HTML error page';
  let out = text;
  for (const [pattern, replacement] of RULES) out = out.replace(pattern, replacement);
  out = out.replace(/\s+/g, ' ').trim();
  return out.length > MAX ? `${out.slice(0, MAX - 1)}…` : out;
}
