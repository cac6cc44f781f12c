// A finished job's files go to the gateway's FileStore at once (provider URLs expire, docs/api.md),
// under "<generation id>/<name>"; what was stored is recorded on the generation (result_json.files),
// from which the files route renders result_url and result_metadata. No file is stored over the
// output cap (LUMENGATE_MAX_OUTPUT_BYTES, src/providers/body-limit.ts): a download stops at it.
import { Agent, request } from 'undici';
import type { FileStore } from '../storage/files.js';
import { ProviderError, type MediaOutputFile, type OpenedOutput } from '../providers/spec.js';
import { outputUrl, publicOnlyConnect, refusedAddress } from '../providers/media-http.js';
import { bounded, fileLimit, refuseDeclared, type BodyLimit } from '../providers/body-limit.js';

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

export interface StoreOptions {
  signal: AbortSignal;
  /** The origin of the provider's own API (MediaProvider.origin), where any address is allowed. */
  providerOrigin?: string | undefined;
  /** The most bytes one file may have (LUMENGATE_MAX_OUTPUT_BYTES). */
  maxBytes: number;
}

export async function storeOutputs(files: FileStore, generationId: number, outputs: MediaOutputFile[], opts: StoreOptions): Promise<StoredOutput[]> {
  const limit = fileLimit(opts.maxBytes);
  // Bytes a provider read itself were bounded as it read them; a file decoded from its JSON (base64) is checked here.
  const over = outputs.find((f) => f.data && f.data.byteLength > limit.bytes);
  if (over?.data) throw limit.tooLarge(over.data.byteLength);
  const stored: StoredOutput[] = [];
  for (const [i, f] of outputs.entries()) {
    let key: string | undefined;
    let name: string;
    let mediaType = f.mediaType;
    let format: string | null;
    let bytes: number;
    let opened: OpenedOutput | undefined;
    try {
      // A file behind the provider's key is opened now, so its answer's media type names it.
      opened = f.data || !f.open ? undefined : await f.open(opts.signal);
      mediaType = opened?.mediaType ?? mediaType;
      format = f.metadata?.format ?? EXTENSIONS[mediaType] ?? null;
      name = `output${outputs.length > 1 ? `-${i + 1}` : ''}.${format ?? 'bin'}`;
      key = `${generationId}/${name}`;
      ({ bytes } = await files.put(key, f.data ?? opened?.body ?? (await download(f.url, opts.signal, opts.providerOrigin, limit)), mediaType));
    } catch (err) {
      // Cancelled or failed part way: nothing records these files, so none may stay (a partial one
      // included), and an answer not read to its end is closed.
      opened?.close();
      await deleteOutputs(files, [...stored.map((s) => s.key), ...(key ? [key] : [])]);
      throw err;
    }
    stored.push({
      key,
      name,
      media_type: mediaType,
      bytes,
      width: f.metadata?.width ?? null,
      height: f.metadata?.height ?? null,
      duration: f.metadata?.duration ?? null,
      format,
    });
  }
  return stored;
}

/** Deletes stored outputs that no generation records (best effort: a file left behind is only space). */
export async function deleteOutputs(files: FileStore, keys: string[]): Promise<void> {
  await Promise.all(keys.map((k) => files.delete(k).catch(() => undefined)));
}

// Output URLs off the provider's origin connect only to public addresses, checked on the addresses
// connected to (as webhooks are): a name that resolves to a private one is refused.
const publicOnly = new Agent({ connect: publicOnlyConnect });

/**
 * The provider's file, streamed into the store (a video is never held whole in memory), up to
 * `limit`: a Content-Length above it is refused unread, and the stream ends with an error before
 * the chunk that would cross it (the store's partial file is deleted by storeOutputs). Only over
 * http(s), and only from the provider's own origin or a public address: a URL in an output must
 * not turn the gateway into a proxy into its own network. Redirects are not followed.
 */
async function download(raw: string | undefined, signal: AbortSignal, providerOrigin: string | undefined, limit: BodyLimit): Promise<AsyncIterable<Uint8Array>> {
  if (!raw) throw new ProviderError('provider output has neither bytes nor a URL', { retryable: false });
  // The provider's own origin is where the operator pointed it (<ID>_BASE_URL): any address there.
  const { url, own } = outputUrl(raw, providerOrigin);
  const res = await request(url, { signal, ...(own ? {} : { dispatcher: publicOnly }) }).catch((err: Error) => {
    throw refusedAddress(err) ?? new ProviderError(`downloading the result failed: ${err.message}`, { cause: err });
  });
  if (res.statusCode < 200 || res.statusCode >= 300) {
    await res.body.dump();
    throw new ProviderError(`downloading the result failed: HTTP ${res.statusCode}`, { status: res.statusCode, retryable: res.statusCode >= 500 || res.statusCode === 429 });
  }
  refuseDeclared(res, limit);
  return bounded(res.body, limit);
}
