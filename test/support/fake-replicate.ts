// A fake Replicate HTTP API (https://replicate.com/docs/reference/http) on 127.0.0.1, replaying its
// prediction protocol byte for byte: POST /v1/models/{owner}/{name}/predictions (or /v1/predictions
// with a version) answers 201 with the prediction object (`Prefer: wait` answers the finished one
// when it is done at once), GET /v1/predictions/{id} polls it, POST /v1/predictions/{id}/cancel
// cancels it; errors are application/problem+json. Output files are served from the fake's own
// URL, as replicate.delivery serves them. Scriptable per prediction: succeed after N polls, fail,
// or stay `processing` until the test releases it.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { EventEmitter, once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import type { HugeBody } from './huge-body.js';

export interface ReplicateScript {
  /** GET polls answered `processing` before the ending (0: the create call already has it). */
  polls?: number;
  /** The create call is answered only after releaseCreates() (the prediction exists from its arrival, as at Replicate during `Prefer: wait`). */
  createHold?: boolean;
  /** Stay `processing` until release() (the polls count is then ignored). */
  hold?: boolean;
  /** How the prediction ends. */
  ending?: 'succeeded' | 'failed';
  /** The model's error message of a failed prediction. */
  error?: string;
  /** The create call answers this HTTP status with Replicate's problem body instead (e.g. 422, 500). */
  createStatus?: number;
  /** The create call's refusal (createStatus) carries this `Retry-After` (seconds). */
  retryAfter?: number;
  /** Every poll (GET) answers this HTTP status with Replicate's problem body instead (e.g. 500: a transient failure). */
  pollStatus?: number;
  /** Output files (1: `output` is a URL string; more: a list). */
  outputs?: number;
  /** Extension of the output files. */
  ext?: string;
  /** A text output instead of files (OCR models answer a string). */
  text?: string;
  /** The first `fileFailures` downloads of an output file (1 when unset) answer this HTTP status (e.g. 503: replicate.delivery failing for a moment). */
  fileStatus?: number;
  fileFailures?: number;
  /** The output file's download sends its first 4 KiB, then holds the rest until release(). */
  fileHold?: boolean;
  /** Output file URLs elsewhere than the fake's own origin (as replicate.delivery is), instead of its own. */
  urls?: string[];
  /** The output file's downloads answer this body instead (huge-body.ts: larger than any gateway should take). */
  fileBody?: HugeBody;
  /** Polls (GET) answer this body instead: a prediction that never ends. */
  pollBody?: HugeBody;
}

export interface FakePrediction {
  id: string;
  model: string;
  input: Record<string, unknown>;
  script: ReplicateScript;
  status: 'starting' | 'processing' | 'succeeded' | 'failed' | 'canceled';
  polls: number;
  /** Downloads of its output files answered so far (fileStatus counts against these). */
  downloads: number;
  released: boolean;
  created_at: string;
}

export interface RecordedCall {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: any;
}

export interface FakeReplicate {
  origin: string;
  /** REPLICATE_BASE_URL for the gateway. */
  baseUrl: string;
  calls: RecordedCall[];
  predictions: Map<string, FakePrediction>;
  /** Scripts for the next predictions, in order; then `defaults`. */
  queue: ReplicateScript[];
  defaults: ReplicateScript;
  /** Lets held predictions (all, or one) end as scripted at their next poll. */
  release(id?: string): void;
  /** Answers the create calls held by `createHold` (and any later ones) at once. */
  releaseCreates(): void;
  /** Resolves once `cond()` holds, re-checked after every request the fake answers; rejects after 60 s without. */
  until(cond: () => boolean): Promise<void>;
  creates(): number;
  /** The bytes of an output file (what the gateway must store). */
  fileBytes(predictionId: string, index: number): Buffer;
  close(): Promise<void>;
}

const MEDIA: Record<string, string> = { webp: 'image/webp', png: 'image/png', mp4: 'video/mp4', mp3: 'audio/mpeg', wav: 'audio/wav' };

export async function startFakeReplicate(defaults: ReplicateScript = {}): Promise<FakeReplicate> {
  const calls: RecordedCall[] = [];
  const predictions = new Map<string, FakePrediction>();
  const events = new EventEmitter();
  events.setMaxListeners(0);
  let origin = '';
  let createsReleased = false;
  const fake: FakeReplicate = {
    origin: '',
    baseUrl: '',
    calls,
    predictions,
    queue: [],
    defaults,
    release(id) {
      for (const p of predictions.values()) if (!id || p.id === id) p.released = true;
      events.emit('release');
    },
    releaseCreates() {
      createsReleased = true;
      events.emit('release');
    },
    async until(cond) {
      // Bounded, generously: a condition that never comes fails the test instead of hanging it.
      const cap = AbortSignal.timeout(60_000);
      while (!cond()) await once(events, 'request', { signal: cap }).catch((err: Error) => Promise.reject(cap.aborted ? new Error('fake replicate: condition not met within 60 s') : err));
    },
    creates: () => calls.filter((c) => c.method === 'POST' && /\/predictions$/.test(c.path)).length,
    fileBytes: (id, index) => Buffer.concat([Buffer.from(`RIFF-fake-output-${id}-${index}-`), Buffer.alloc(4096 + index, index + 1)]),
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const json = (res: ServerResponse, status: number, body: unknown, problem = false, headers: Record<string, string> = {}) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': problem ? 'application/problem+json' : 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  };
  const problem = (res: ServerResponse, status: number, title: string, detail: string, headers?: Record<string, string>) => json(res, status, { title, detail, status }, true, headers);

  const view = (p: FakePrediction) => {
    const done = p.status === 'succeeded' || p.status === 'failed' || p.status === 'canceled';
    const n = p.script.outputs ?? 1;
    const ext = p.script.ext ?? 'webp';
    const urls = p.script.urls ?? Array.from({ length: n }, (_, i) => `${origin}/files/${p.id}/out-${i}.${ext}`);
    return {
      id: p.id,
      model: p.model,
      version: 'hidden',
      input: p.input,
      logs: p.status === 'starting' ? '' : 'Using seed: 42\n',
      output: p.status !== 'succeeded' ? null : p.script.text !== undefined ? p.script.text : urls.length === 1 ? urls[0] : urls,
      data_removed: false,
      error: p.status === 'failed' ? (p.script.error ?? 'Prediction failed') : null,
      status: p.status,
      created_at: p.created_at,
      ...(p.status !== 'starting' ? { started_at: p.created_at } : {}),
      ...(done ? { completed_at: new Date().toISOString() } : {}),
      urls: {
        cancel: `${origin}/v1/predictions/${p.id}/cancel`,
        get: `${origin}/v1/predictions/${p.id}`,
        stream: `${origin}/v1/files/stream-${p.id}`,
        web: `https://replicate.com/p/${p.id}`,
      },
      ...(p.status === 'succeeded' ? { metrics: { predict_time: 1.5, total_time: 1.6 } } : {}),
    };
  };

  /** Moves a prediction on by one look (create or poll). */
  const advance = (p: FakePrediction) => {
    if (p.status !== 'starting' && p.status !== 'processing') return;
    const due = p.script.hold ? p.released : p.polls >= (p.script.polls ?? 0);
    p.status = due ? (p.script.ending ?? 'succeeded') : 'processing';
  };

  // eslint-disable-next-line @typescript-eslint/no-misused-promises -- a test fake; a failure fails the test
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString();
    let body: any = null;
    try {
      body = raw ? JSON.parse(raw) : null;
    } catch {
      /* recorded as null */
    }
    const path = req.url ?? '/';
    calls.push({ method: req.method ?? '', path, headers: req.headers, body });
    // A request held before its answer is seen at its arrival too.
    setImmediate(() => events.emit('request'));
    try {
      const file = /^\/files\/([a-z0-9]+)\/out-(\d+)\.(\w+)$/.exec(path);
      if (req.method === 'GET' && file) {
        const bytes = fake.fileBytes(file[1]!, Number(file[2]));
        const p = predictions.get(file[1]!);
        if (p && p.downloads++ < (p.script.fileFailures ?? 1) && p.script.fileStatus) return problem(res, p.script.fileStatus, 'Service Unavailable', 'scripted failure');
        if (p?.script.fileBody) return await p.script.fileBody.write(res, 200, { 'content-type': MEDIA[file[3]!] ?? 'application/octet-stream' });
        res.writeHead(200, { 'content-type': MEDIA[file[3]!] ?? 'application/octet-stream', 'content-length': bytes.length });
        if (p?.script.fileHold) {
          res.write(bytes.subarray(0, 4096));
          while (!p.released && !res.destroyed) await Promise.race([once(events, 'release'), once(res, 'close')]);
          return res.end(bytes.subarray(4096));
        }
        return res.end(bytes);
      }
      if (req.headers.authorization !== 'Bearer r8_fake_test_token') return problem(res, 401, 'Unauthenticated', 'You did not pass a valid authentication token');
      const create = /^\/v1\/models\/([^/]+)\/([^/]+)\/predictions$/.exec(path);
      if (req.method === 'POST' && (create || path === '/v1/predictions')) {
        const script = fake.queue.shift() ?? fake.defaults;
        if (script.createStatus) {
          const title = script.createStatus === 422 ? 'Input validation failed' : script.createStatus === 429 ? 'Too Many Requests' : 'Internal Server Error';
          return problem(res, script.createStatus, title, 'scripted failure', script.retryAfter !== undefined ? { 'retry-after': String(script.retryAfter) } : {});
        }
        if (!body || typeof body.input !== 'object') return problem(res, 422, 'Input validation failed', '- input: Invalid type. Expected: object, given: null');
        const p: FakePrediction = {
          id: randomBytes(13).toString('hex').slice(0, 26),
          model: create ? `${create[1]}/${create[2]}` : String(body.version),
          input: body.input,
          script,
          status: 'starting',
          polls: 0,
          downloads: 0,
          released: false,
          created_at: new Date().toISOString(),
        };
        predictions.set(p.id, p);
        while (script.createHold && !createsReleased && !res.destroyed) await Promise.race([once(events, 'release'), once(res, 'close')]);
        // Prefer: wait=N answers a prediction that finished at once; otherwise the running one.
        if (/wait/.test(String(req.headers.prefer ?? ''))) advance(p);
        return json(res, 201, view(p));
      }
      const one = /^\/v1\/predictions\/([a-z0-9]+)(\/cancel)?$/.exec(path);
      const p = one ? predictions.get(one[1]!) : undefined;
      if (one && !p) return problem(res, 404, 'Not found', 'The requested resource could not be found.');
      if (p && req.method === 'GET' && !one![2]) {
        if (p.script.pollStatus) return problem(res, p.script.pollStatus, 'Internal Server Error', 'scripted failure');
        p.polls++;
        if (p.script.pollBody) return await p.script.pollBody.write(res, 200, { 'content-type': 'application/json' });
        advance(p);
        return json(res, 200, view(p));
      }
      if (p && req.method === 'POST' && one![2]) {
        if (p.status === 'starting' || p.status === 'processing') p.status = 'canceled';
        return json(res, 200, view(p));
      }
      problem(res, 404, 'Not found', 'The requested resource could not be found.');
    } finally {
      setImmediate(() => events.emit('request'));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  fake.origin = origin;
  fake.baseUrl = `${origin}/v1`;
  return fake;
}
