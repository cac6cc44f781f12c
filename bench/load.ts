// The load client: opens streams with undici and times them. Time to first token = request start
// to the first content delta; gaps = intervals between consecutive deltas; total = start to [DONE].
import { performance } from 'node:perf_hooks';
import { Agent, request } from 'undici';

/** What the load client sends to the fake upstream, directly or through a floor (the bare proxy, nginx). */
export const upstreamBody = JSON.stringify({ model: 'gpt-5-nano', messages: [{ role: 'user', content: 'Say something.' }], stream: true, stream_options: { include_usage: true } });
export const upstreamHeaders = { 'content-type': 'application/json', authorization: 'Bearer sk-bench' };

/** direct: to the fake upstream; floor: through the bare proxy (floor-proxy.ts); nginx: through nginx (nginx.ts); through: lumengate. */
export type Side = 'direct' | 'floor' | 'nginx' | 'through';

export interface StreamResult {
  error: string | null;
  ttftMs: number;
  gapsMs: number[];
  totalMs: number;
  /** Content deltas received (the events whose server CPU the bench divides by). */
  deltas: number;
}

/** One pool for every origin; enough sockets that the client never queues a stream. */
export function loadAgent(): Agent {
  return new Agent({ connections: null, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 60_000, bodyTimeout: 60_000 });
}

export interface StreamTarget {
  url: string;
  headers: Record<string, string>;
  body: string;
  /** How a delta is recognised in this side's SSE payloads. */
  side: Side;
  expectedDeltas: number;
}

/** A delta in OpenAI's chunk format (direct, floor, nginx) or lumengate's content_delta event (through). */
function isDelta(side: Side, payload: string): boolean | 'error' {
  const ev = JSON.parse(payload);
  if (side !== 'through') return typeof ev.choices?.[0]?.delta?.content === 'string' && ev.choices[0].delta.content.length > 0;
  if (ev.type === 'error') return 'error';
  return ev.type === 'content_delta';
}

export async function runStream(agent: Agent, t: StreamTarget): Promise<StreamResult> {
  const start = performance.now();
  let last = 0;
  let ttft = NaN;
  const gaps: number[] = [];
  let deltas = 0;
  let done = false;
  try {
    const res = await request(t.url, { method: 'POST', headers: t.headers, body: t.body, dispatcher: agent });
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      return { error: `HTTP ${res.statusCode}: ${text.slice(0, 200)}`, ttftMs: NaN, gapsMs: [], totalMs: NaN, deltas: 0 };
    }
    res.body.setEncoding('utf8');
    let buf = '';
    for await (const piece of res.body as AsyncIterable<string>) {
      buf += piece;
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) !== -1) {
        // v2 frames start with an `id:` line (docs/api.md).
        const event = buf.slice(0, cut).replace(/^id: [^\n]*\n/, '');
        buf = buf.slice(cut + 2);
        if (!event.startsWith('data: ')) continue; // `: ping` comments
        const payload = event.slice(6);
        if (payload === '[DONE]') {
          done = true;
          continue;
        }
        const kind = isDelta(t.side, payload);
        if (kind === 'error') return { error: `error event: ${payload.slice(0, 200)}`, ttftMs: ttft, gapsMs: gaps, totalMs: NaN, deltas };
        if (!kind) continue;
        const now = performance.now();
        if (deltas === 0) ttft = now - start;
        else gaps.push(now - last);
        last = now;
        deltas++;
      }
    }
  } catch (err) {
    return { error: err instanceof Error ? `${err.name}: ${err.message}` : String(err), ttftMs: ttft, gapsMs: gaps, totalMs: NaN, deltas };
  }
  const total = performance.now() - start;
  if (!done) return { error: 'stream ended without [DONE]', ttftMs: ttft, gapsMs: gaps, totalMs: total, deltas };
  if (deltas !== t.expectedDeltas) return { error: `got ${deltas} deltas, expected ${t.expectedDeltas}`, ttftMs: ttft, gapsMs: gaps, totalMs: total, deltas };
  return { error: null, ttftMs: ttft, gapsMs: gaps, totalMs: total, deltas };
}

export interface ThroughputResult {
  requests: number;
  errors: number;
  seconds: number;
  perSecond: number;
  latencyMs: number[];
  firstError: string | null;
}

/** Closed loop: `concurrency` callers each send the next request as soon as the last one answered. */
export async function runThroughput(agent: Agent, url: string, headers: Record<string, string>, body: string, concurrency: number, seconds: number): Promise<ThroughputResult> {
  const latency: number[] = [];
  let errors = 0;
  let firstError: string | null = null;
  const start = performance.now();
  const end = start + seconds * 1000;
  const caller = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        const res = await request(url, { method: 'POST', headers, body, dispatcher: agent });
        const text = await res.body.text();
        if (res.statusCode !== 200) {
          errors++;
          firstError ??= `HTTP ${res.statusCode}: ${text.slice(0, 200)}`;
        } else latency.push(performance.now() - t0);
      } catch (err) {
        errors++;
        firstError ??= String(err);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  const elapsed = (performance.now() - start) / 1000;
  return { requests: latency.length, errors, seconds: elapsed, perSecond: latency.length / elapsed, latencyMs: latency, firstError };
}

/** Nearest-rank percentile of unsorted numbers (NaN-free). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}
