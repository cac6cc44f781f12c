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
    throw new ModelFileNotFoundError(`model file ${model} not found (looked in ${process.cwd()} and ${modelsDir})`);
  }
  try {
    const { resolveModelFile } = await import('node-llama-cpp');
    return await resolveModelFile(model, { directory: modelsDir, download: false, cli: false });
  } catch (err) {
    throw new ModelFileNotFoundError(`${(err as Error).message}; run \`lumengate models pull ${model}\` first`, { cause: err });
  }
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
  }
  await validateGgufFile(file);
  return file;
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}
