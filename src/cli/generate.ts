// `lumengate generate MODEL --prompt TEXT [--out FILE]`: one generation through a running gateway's
// HTTP API (docs/dashboard.md). A media model (image, video, audio, tts, stt, tool) runs as a job:
// POST /api/v2/generate with `wait`, then GET /api/v2/generate/{id} until it is completed or failed,
// progress on stderr; the result file is saved to --out (or its signed URL printed). A text model
// answers at once and its content is printed.
import { constants, createWriteStream } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import { numberFrom, withGateway } from './options.js';
import { ChatError } from './chat.js';

interface GenerateOptions {
  url: string;
  key?: string;
  prompt?: string;
  text?: string;
  param: Record<string, unknown>;
  out?: string;
  wait?: number;
  json?: boolean;
}

/** The parts of the generation object (docs/api.md) this command reads. */
interface Generation {
  id: number;
  status: 'pending' | 'completed' | 'failed';
  result_text: string | null;
  result_url: string | null;
  error: string | null;
  tokens_spent: number;
  balance_remaining: number | null;
  result_metadata: { mime_type?: string; bytes?: number; format?: string | null; expired_at?: string } | null;
}

/** The API's largest `wait` (docs/api.md). */
const MAX_WAIT_SECONDS = 120;
/** Polling starts quick and backs off to the documented "every 5 s is plenty". */
const POLL_FIRST_MS = 500;
const POLL_MAX_MS = 5000;

/** `k=v`: the value as JSON when it is a number, boolean or null (seed=7, hd=true), else the string. */
function param(v: string, acc: Record<string, unknown>): Record<string, unknown> {
  const eq = v.indexOf('=');
  if (eq < 1) throw new InvalidArgumentError('must be key=value');
  const key = v.slice(0, eq);
  const raw = v.slice(eq + 1);
  let value: unknown = raw;
  if (/^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null)$/.test(raw)) value = JSON.parse(raw) as unknown;
  return { ...acc, [key]: value };
}

const waitSeconds = numberFrom(0, MAX_WAIT_SECONDS, 'seconds');

export function registerGenerate(program: Command): void {
  withGateway(program.command('generate <model>').description('run one generation through a running gateway: waits for a media job and saves its file'))
    .option('--prompt <text>', 'the prompt (for tts: the text to speak)')
    .option('--text <text>', 'text to speak (tts), instead of --prompt')
    .option('--param <key=value>', 'a model option, e.g. size=1792x1024, voice_id=en, duration=5 (repeatable)', param, {})
    .option('--out <file>', 'save the result file here ("-": stdout); without it the signed result URL is printed')
    .option('--wait <seconds>', `media jobs: seconds the gateway holds the request before answering pending (0-${MAX_WAIT_SECONDS}; default: the model's); polling continues after it`, waitSeconds)
    .option('--json', 'print the final generation object as JSON')
    .action((model: string, o: GenerateOptions) => generate(model, o));
}

/** One HTTP call to the gateway; any error answer becomes `<code>: <message>`. */
async function call<T>(o: GenerateOptions, key: string | undefined, path: string, body?: unknown): Promise<T> {
  const res = await fetch(new URL(path, o.url), {
    method: body === undefined ? 'GET' : 'POST',
    headers: { ...(key ? { authorization: `Bearer ${key}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  }).catch((err: Error & { cause?: { code?: string; message?: string } }) => {
    throw new ChatError(`cannot reach ${o.url}: ${err.cause?.code ?? err.cause?.message ?? err.message}`);
  });
  const answer = (await res.json().catch(() => null)) as (T & { error?: string; message?: string }) | null;
  if (!res.ok) throw new ChatError(answer?.error && answer.message ? `${answer.error}: ${answer.message}` : `HTTP ${res.status} from ${o.url}`);
  if (answer === null) throw new ChatError(`unreadable answer from ${o.url}`);
  return answer;
}

/**
 * Fails before anything is submitted (and charged) when --out cannot be written: its directory is
 * missing or not writable, or it names a directory or a read-only file.
 */
async function checkWritable(out: string): Promise<void> {
  const path = resolve(out);
  const existing = await stat(path).catch(() => null);
  if (existing?.isDirectory()) throw new ChatError(`cannot write ${out}: it is a directory`);
  const target = existing ? path : dirname(path);
  try {
    await access(target, constants.W_OK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ChatError(`cannot write ${out}: ${code === 'ENOENT' ? `directory ${dirname(out)} does not exist` : `${existing ? 'file' : `directory ${dirname(out)}`} is not writable (${code})`}`);
  }
}

async function generate(model: string, o: GenerateOptions): Promise<void> {
  const key = o.key ?? process.env.LUMENGATE_API_KEY;
  if (!key) throw new ChatError('no API key: pass --key or set LUMENGATE_API_KEY');
  if (o.prompt === undefined && o.text === undefined) throw new ChatError('nothing to generate: give --prompt (or --text for speech)');
  const status = (s: string) => process.stderr.write(process.stderr.isTTY ? `\x1b[2m${s}\x1b[0m\n` : `${s}\n`);

  // The model's category decides the flow (and an unknown model is reported with suggestions).
  const info = await call<{ slug: string; category: string }>(o, undefined, `/api/v2/models/${encodeURIComponent(model)}`);
  const isText = info.category === 'text' || info.category === 'embedding';
  if (isText && o.wait !== undefined) throw new ChatError(`--wait is for media jobs; ${model} is a ${info.category} model and answers at once`);
  if (o.out !== undefined && o.out !== '-') await checkWritable(o.out);

  const body = {
    model,
    ...(o.prompt !== undefined ? { prompt: o.prompt } : {}),
    ...(o.text !== undefined ? { text: o.text } : {}),
    ...(Object.keys(o.param).length > 0 ? { params: o.param } : {}),
    ...(o.wait !== undefined ? { wait: o.wait } : {}),
  };
  let g = await call<Generation>(o, key, '/api/v2/generate', body);

  // Poll a job that did not end within `wait`; Ctrl-C leaves it running at the gateway.
  const started = Date.now();
  let delay = POLL_FIRST_MS;
  let lastReport = 0;
  while (g.status === 'pending') {
    const elapsed = Math.round((Date.now() - started) / 1000);
    if (lastReport === 0 || elapsed - lastReport >= 10) {
      status(`[generation ${g.id} · pending · ${elapsed} s · Ctrl-C stops waiting, not the job]`);
      lastReport = Math.max(elapsed, 1);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, POLL_MAX_MS);
    g = await call<Generation>(o, key, `/api/v2/generate/${g.id}`);
  }

  if (o.json) process.stdout.write(`${JSON.stringify(g, null, 2)}\n`);
  if (g.status === 'failed') throw new ChatError(`generation ${g.id} failed: ${g.error ?? 'unknown error'} (not charged)`);

  const m = g.result_metadata;
  const file = m?.mime_type ? ` · ${[m.mime_type, m.bytes !== undefined ? `${m.bytes} bytes` : null].filter(Boolean).join(', ')}` : '';
  if (g.result_url && o.out !== undefined) {
    await download(g.result_url, o.out);
    if (o.out !== '-') status(`saved ${o.out}`);
  } else if (g.result_url && !o.json) {
    process.stdout.write(`${g.result_url}\n`);
  } else if (!g.result_url && m?.expired_at) {
    throw new ChatError(`generation ${g.id}: its file expired at ${m.expired_at}`);
  } else if (!g.result_url && o.out !== undefined) {
    throw new ChatError(`generation ${g.id} has no result file to save${g.result_text ? ' (its result is text, printed below)' : ''}`);
  }
  // Text results (a text model's answer, a transcription): printed, also beside a file.
  if (g.result_text && !o.json && o.out !== '-') process.stdout.write(g.result_text.endsWith('\n') ? g.result_text : `${g.result_text}\n`);
  status(`[${model} · generation ${g.id} · ${g.tokens_spent} credit${g.tokens_spent === 1 ? '' : 's'} spent · balance ${g.balance_remaining}${file}]`);
}

/** GET the signed result URL (no API key needed) into `out`, or stdout for "-". */
async function download(url: string, out: string): Promise<void> {
  const res = await fetch(url).catch((err: Error) => {
    throw new ChatError(`cannot download ${url}: ${err.message}`);
  });
  if (!res.ok || !res.body) throw new ChatError(`cannot download the result: HTTP ${res.status}`);
  const source = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
  try {
    await pipeline(source, out === '-' ? process.stdout : createWriteStream(out));
  } catch (err) {
    throw new ChatError(`cannot write ${out}: ${(err as Error).message}`);
  }
}
