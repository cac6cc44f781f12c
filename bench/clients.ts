// Load-client pieces bench:paths and bench:soak need beyond bench/load.ts: a stream timer for any
// SSE dialect (v2 events, Chat Completions chunks, Responses named events; text or tool calls),
// and a closed loop of GETs where each caller has its own URL.
import { performance } from 'node:perf_hooks';
import { request, type Agent } from 'undici';

/** What one SSE frame is for the measurement: a timed event, the end of the stream, a failure, or nothing. */
export type Verdict = 'mark' | 'done' | 'error' | null;
/** The fields of an SSE payload the classifiers look at (v2 events, Chat Completions chunks). */
export interface Payload {
  type?: string;
  error?: unknown;
  choices?: Array<{ delta?: { content?: unknown; tool_calls?: unknown } }>;
}
export type Classify = (event: string | null, data: Payload) => Verdict;

const choice = (d: Payload) => d.choices?.[0]?.delta;

/** The dialects the benches read; each times one kind of event. */
export const classifiers = {
  /** /api/v2 stream: text deltas. */
  v2Text: (_e, d) => (d.type === 'content_delta' ? 'mark' : d.type === 'error' ? 'error' : null),
  /** /api/v2 stream: one `tool_call` event per complete call (docs/api.md, Tools). */
  v2Tools: (_e, d) => (d.type === 'tool_call' ? 'mark' : d.type === 'error' ? 'error' : null),
  /** Chat Completions chunks (the fake upstream, lumengate's /v1): content deltas. */
  chatText: (_e, d) => (d.error ? 'error' : typeof choice(d)?.content === 'string' && choice(d)!.content !== '' ? 'mark' : null),
  /** Chat Completions chunks: tool-call deltas (the call's head, then argument pieces). */
  chatTools: (_e, d) => (d.error ? 'error' : Array.isArray(choice(d)?.tool_calls) ? 'mark' : null),
  /** /v1/responses named events: text deltas; no [DONE], `response.completed` ends it. */
  responsesText: (e) => (e === 'response.output_text.delta' ? 'mark' : e === 'response.completed' ? 'done' : e === 'response.failed' || e === 'error' ? 'error' : null),
} satisfies Record<string, Classify>;

export interface TimedStream {
  error: string | null;
  /** Request start to the first marked event, ms. */
  firstMs: number;
  /** Request start to the last marked event, ms. */
  lastMs: number;
  marks: number;
  totalMs: number;
}

export interface StreamRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  classify: Classify;
  /** Marked events a correct stream has (checked when given). */
  expectedMarks?: number;
}

/** Sends one streaming request and times its marked events; the stream must end with [DONE] or a 'done' event. */
export async function timedStream(agent: Agent, t: StreamRequest): Promise<TimedStream> {
  const start = performance.now();
  const out: TimedStream = { error: null, firstMs: NaN, lastMs: NaN, marks: 0, totalMs: NaN };
  const fail = (error: string) => ({ ...out, error });
  let done = false;
  try {
    const res = await request(t.url, { method: 'POST', headers: t.headers, body: t.body, dispatcher: agent });
    if (res.statusCode !== 200) return fail(`HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 200)}`);
    res.body.setEncoding('utf8');
    let buf = '';
    for await (const piece of res.body as AsyncIterable<string>) {
      buf += piece;
      let cut: number;
      while ((cut = buf.indexOf('\n\n')) !== -1) {
        const frame = buf.slice(0, cut);
        buf = buf.slice(cut + 2);
        let event: string | null = null;
        let data: string | null = null;
        for (const line of frame.split('\n')) {
          if (line.startsWith('event: ')) event = line.slice(7);
          else if (line.startsWith('data: ')) data = line.slice(6);
        }
        if (data === null) continue; // `: ping` comments, `id:`-only frames
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        const verdict = t.classify(event, JSON.parse(data) as Payload);
        if (verdict === 'error') return fail(`error event: ${data.slice(0, 200)}`);
        if (verdict === 'done') done = true;
        if (verdict !== 'mark') continue;
        const now = performance.now() - start;
        if (out.marks === 0) out.firstMs = now;
        out.lastMs = now;
        out.marks++;
      }
    }
  } catch (err) {
    return fail(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  }
  out.totalMs = performance.now() - start;
  if (!done) return fail('stream ended without its terminal event');
  if (t.expectedMarks !== undefined && out.marks !== t.expectedMarks) return fail(`got ${out.marks} marked events, expected ${t.expectedMarks}`);
  return out;
}

export interface GetLoopResult {
  /** Latencies of answered requests, per caller. */
  latencyMs: number[][];
  requests: number;
  errors: number;
  firstError: string | null;
  seconds: number;
}

/** Closed loop of GETs: caller i requests urls[i] again as soon as the last answer arrived. */
export async function runGetLoop(agent: Agent, urls: string[], headers: Record<string, string>, seconds: number): Promise<GetLoopResult> {
  const latency = urls.map(() => [] as number[]);
  let errors = 0;
  let firstError: string | null = null;
  const start = performance.now();
  const end = start + seconds * 1000;
  await Promise.all(
    urls.map(async (url, i) => {
      while (performance.now() < end) {
        const t0 = performance.now();
        try {
          const res = await request(url, { method: 'GET', headers, dispatcher: agent });
          const text = await res.body.text();
          if (res.statusCode !== 200) {
            errors++;
            firstError ??= `HTTP ${res.statusCode}: ${text.slice(0, 200)}`;
          } else latency[i]!.push(performance.now() - t0);
        } catch (err) {
          errors++;
          firstError ??= String(err);
        }
      }
    }),
  );
  return { latencyMs: latency, requests: latency.reduce((n, l) => n + l.length, 0), errors, firstError, seconds: (performance.now() - start) / 1000 };
}

/** The fields of a JSON answer the benches read (a generation object, a chat completion, a response). */
export interface Answer {
  id?: number;
  status?: string;
  choices?: Array<{ message?: { content?: unknown } }>;
}

/** One JSON request; the body text and status, or the failure as an error string. */
export async function jsonRequest(agent: Agent, method: 'GET' | 'POST', url: string, headers: Record<string, string>, body?: unknown): Promise<{ status: number; json: Answer | null; text: string }> {
  const res = await request(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), dispatcher: agent });
  const text = await res.body.text();
  let json: Answer | null = null;
  try {
    json = JSON.parse(text) as Answer;
  } catch {
    /* not JSON */
  }
  return { status: res.statusCode, json, text };
}
