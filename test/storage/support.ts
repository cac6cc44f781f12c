// Shared by the storage tests: a generation with result files, as the media job runner leaves it
// (hold + settle through the ledger, result_json.files, the bytes put through the FileStore),
// a real S3-compatible server (s3rver) on 127.0.0.1, and raw GETs that keep the path as written.
import { request } from 'node:http';
import { createRequire } from 'node:module';
import { holdTokens, settleGeneration } from '../../src/billing/ledger.js';
import type { ResultFile } from '../../src/storage/files.js';
import type { Harness } from '../support/harness.js';

export interface FileSpec {
  name: string;
  media_type: string;
  bytes: Uint8Array;
  meta?: Pick<ResultFile, 'width' | 'height' | 'duration' | 'format'>;
}

/** A completed image/audio/video generation of `accountId` whose files are stored. */
export async function generationWithFiles(h: Harness, accountId: number, files: FileSpec[], category = 'image'): Promise<number> {
  const db = h.server.db;
  const hold = await holdTokens(db, { accountId, apiKeyId: null, modelSlug: 'test-media', category, price: 1, prompt: 'a cat', holdTtlMs: 60_000 });
  if (!hold) throw new Error('hold refused');
  const id = hold.generationId;
  const recorded: ResultFile[] = [];
  for (const f of files) {
    const key = `${id}/${f.name}`;
    const { bytes } = await h.server.files.store.put(key, f.bytes, f.media_type);
    recorded.push({ key, name: f.name, media_type: f.media_type, bytes, ...f.meta });
  }
  await settleGeneration(db, id, {
    status: 'completed',
    resultText: null,
    resultJson: JSON.stringify({ files: recorded }),
    error: null,
    finishReason: null,
    usage: null,
    route: 'test',
    firstTokenAt: null,
    createdAt: hold.createdAt,
  });
  return id;
}

/** GET with the path sent byte for byte (fetch would resolve "..", which is what these tests send). */
export function rawGet(base: string, path: string): Promise<{ status: number; body: Buffer }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}
type S3rverClass = new (opts: Record<string, unknown>) => S3rverInstance;

/** s3rver (no type declarations) on 127.0.0.1, a free port, files in `dir`, with one bucket. */
export async function startS3(dir: string, bucket: string): Promise<{ endpoint: string; close(): Promise<void> }> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory: dir, silent: true, configureBuckets: [{ name: bucket, configs: [] }] });
  const { port } = await server.run();
  return { endpoint: `http://127.0.0.1:${port}`, close: () => server.close() };
}

export const S3_ENV = (endpoint: string, url: string) => ({
  LUMENGATE_STORAGE_URL: url,
  AWS_ENDPOINT_URL: endpoint,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
});

/** Path and query of a URL (result_url is absolute). */
export const pathOf = (url: string) => {
  const u = new URL(url);
  return u.pathname + u.search;
};

export const DAY_MS = 24 * 3600 * 1000;

/** Deterministic non-trivial bytes (not all zeros, so a truncation or mix-up is visible). */
export function bytesOf(n: number, seed = 1): Uint8Array {
  const b = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}
