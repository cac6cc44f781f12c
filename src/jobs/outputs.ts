// A finished job's files go to the gateway's FileStore at once (provider URLs expire, docs/api.md),
// under "<generation id>/<name>"; what was stored is recorded on the generation (result_json.files),
// from which the files route renders result_url and result_metadata.
import { request } from 'undici';
import type { FileStore } from '../storage/files.js';
import { ProviderError, type MediaOutputFile } from '../providers/spec.js';

export interface StoredOutput {
  key: string;
  name: string;
  media_type: string;
  bytes: number;
  width: number | null;
  height: number | null;
  duration: number | null;
  format: string | null;
}

const EXTENSIONS: Record<string, string> = {
  'image/webp': 'webp',
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/gif': 'gif',
  'video/mp4': 'mp4',
  'video/webm': 'webm',
  'video/quicktime': 'mov',
  'audio/mpeg': 'mp3',
  'audio/wav': 'wav',
  'audio/ogg': 'ogg',
  'audio/flac': 'flac',
  'text/plain': 'txt',
};

export async function storeOutputs(files: FileStore, generationId: number, outputs: MediaOutputFile[], signal: AbortSignal): Promise<StoredOutput[]> {
  const stored: StoredOutput[] = [];
  for (const [i, f] of outputs.entries()) {
    const format = f.metadata?.format ?? EXTENSIONS[f.mediaType] ?? null;
    const name = `output${outputs.length > 1 ? `-${i + 1}` : ''}.${format ?? 'bin'}`;
    const key = `${generationId}/${name}`;
    const { bytes } = await files.put(key, f.data ?? (await download(f.url, signal)), f.mediaType);
    stored.push({
      key,
      name,
      media_type: f.mediaType,
      bytes,
      width: f.metadata?.width ?? null,
      height: f.metadata?.height ?? null,
      duration: f.metadata?.duration ?? null,
      format,
    });
  }
  return stored;
}

/** The provider's file, streamed into the store (a video is never held whole in memory). */
async function download(url: string | undefined, signal: AbortSignal): Promise<AsyncIterable<Uint8Array>> {
  if (!url) throw new ProviderError('provider output has neither bytes nor a URL', { retryable: false });
  const res = await request(url, { signal }).catch((err: Error) => {
    throw new ProviderError(`downloading the result failed: ${err.message}`, { cause: err });
  });
  if (res.statusCode >= 400) {
    await res.body.dump();
    throw new ProviderError(`downloading the result failed: HTTP ${res.statusCode}`, { status: res.statusCode, retryable: res.statusCode >= 500 || res.statusCode === 429 });
  }
  return res.body;
}
