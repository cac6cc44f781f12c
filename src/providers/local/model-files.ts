// Where local model files live and how a catalog model string (a path or an `hf:` URI) maps to one.
// node-llama-cpp's resolveModelFile owns the URI -> file name scheme and the download itself; the
// serving path never downloads (download: false), only `lumengate models pull` does.
import { access } from 'node:fs/promises';
import path from 'node:path';
import { validateGgufFile } from './gguf-validate.js';

export const DEFAULT_MODELS_DIR = './data/models';

/** Models directory: explicit config, else LUMENGATE_MODELS_DIR, else ./data/models (relative to cwd). */
export function modelsDirFrom(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(configured ?? env.LUMENGATE_MODELS_DIR ?? DEFAULT_MODELS_DIR);
}

/** `hf:user/repo/file.gguf`, `hf:user/repo:quant` and http(s) URLs are downloadable URIs; anything else is a path. */
export function isModelUri(model: string): boolean {
  return /^(hf:|huggingface:|https?:\/\/)/i.test(model);
}

export class ModelFileNotFoundError extends Error {
  override readonly name = 'ModelFileNotFoundError';
}

/**
 * The local file for a catalog model string, without downloading. A plain path is tried relative
 * to the working directory, then to the models directory.
 */
export async function resolveLocalModelPath(model: string, modelsDir: string): Promise<string> {
  if (!isModelUri(model)) {
    for (const candidate of [path.resolve(model), path.resolve(modelsDir, model)]) {
      if (await exists(candidate)) return candidate;
    }
    throw new ModelFileNotFoundError(`model file ${path.basename(model)} is not in the models directory; ${MANUAL_INSTALL}`);
  }
  try {
    const { resolveModelFile } = await import('node-llama-cpp');
    return await resolveModelFile(model, { directory: modelsDir, download: false, cli: false });
  } catch (err) {
    // Clients see this text: the server's directories are cut out of node-llama-cpp's message.
    const message = withoutDirs((err as Error).message, [modelsDir, process.cwd()]);
    throw new ModelFileNotFoundError(`${message}; run \`lumengate models pull ${model}\` first, or ${MANUAL_INSTALL}`, { cause: err });
  }
}

/** The way forward without a download, in every "missing file" text (no server path in it). */
export const MANUAL_INSTALL = 'copy a GGUF file into LUMENGATE_MODELS_DIR and route a catalog model to its file name';

/** `text` with each of `dirs` (and the separator after it) removed, so only file names remain. */
export function withoutDirs(text: string, dirs: string[]): string {
  return dirs.reduce(
    (t, d) =>
      t
        .split(d + path.sep)
        .join('')
        .split(d)
        .join('.'),
    text,
  );
}

export interface PullProgress {
  totalSize: number;
  downloadedSize: number;
}

export interface PullOptions {
  /** Defaults to LUMENGATE_MODELS_DIR or ./data/models. */
  modelsDir?: string;
  env?: NodeJS.ProcessEnv;
  onProgress?: (p: PullProgress) => void;
  signal?: AbortSignal;
  /** Save under this file name in the models directory (so catalog routes can name a plain file). */
  fileName?: string;
}

/**
 * Downloads a model URI into the models directory (a file already there is kept, not downloaded
 * again) and checks that the result is a sound GGUF. Resolves with the local path.
 */
export async function pullModel(uri: string, opts: PullOptions = {}): Promise<string> {
  const modelsDir = modelsDirFrom(opts.modelsDir, opts.env);
  let file: string;
  if (!isModelUri(uri)) {
    file = await resolveLocalModelPath(uri, modelsDir);
  } else {
    try {
      // A refused or missing URL fails here in seconds; the downloader would retry it for minutes.
      if (/^https?:/i.test(uri) && !(await alreadyPulled(uri, modelsDir, opts.fileName))) await probe(uri, opts.signal);
      // Loaded on demand: node-llama-cpp costs ~40 MB and half a second to import.
      const { resolveModelFile } = await import('node-llama-cpp');
      file = await resolveModelFile(uri, {
        directory: modelsDir,
        download: 'auto',
        cli: false,
        ...(opts.fileName ? { fileName: opts.fileName } : {}),
        onProgress: opts.onProgress,
        signal: opts.signal,
      });
    } catch (err) {
      throw new PullError(`could not download ${uri}: ${describeFetchError(err)}.\nWithout a download: ${MANUAL_INSTALL} (here ${modelsDir}).`, { cause: err });
    }
  }
  await validateGgufFile(file);
  return file;
}

export class PullError extends Error {
  override readonly name = 'PullError';
}

const PROBE_TIMEOUT_MS = 15_000;

/** HEAD of the URL: unreachable or an HTTP error is thrown at once (405/501: the server does not do HEAD; let the download try). */
async function probe(url: string, signal?: AbortSignal): Promise<void> {
  const timeout = AbortSignal.timeout(PROBE_TIMEOUT_MS);
  const res = await fetch(url, { method: 'HEAD', redirect: 'follow', signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  if (!res.ok && res.status !== 405 && res.status !== 501) throw new Error(`the server answered HTTP ${res.status} ${res.statusText}`.trimEnd());
}

async function alreadyPulled(uri: string, modelsDir: string, fileName: string | undefined): Promise<boolean> {
  if (fileName) return exists(path.join(modelsDir, fileName));
  return resolveLocalModelPath(uri, modelsDir).then(
    () => true,
    () => false,
  );
}

/** "fetch failed" says nothing: the cause carries ECONNREFUSED, ENOTFOUND, a timeout… */
function describeFetchError(err: unknown): string {
  const e = err as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${PROBE_TIMEOUT_MS / 1000} s`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  if (cause) return `${e.message} (${cause}${/ENOTFOUND|EAI_AGAIN/.test(cause) ? ': no network or DNS?' : ''})`;
  return e?.message ?? String(err);
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}
