// Where the gateway keeps result files (docs/api.md): provider URLs expire, so every image, audio
// or video a job produces is copied here at once. One interface, one implementation per backend:
// the file system by default (./data/files), S3-compatible with LUMENGATE_STORAGE_URL=s3://bucket/prefix.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

export interface StoredFile {
  body: Readable;
  bytes: number;
}

export interface FileStore {
  /** Writes a file under `key` ("<generation id>/<name>"); resolves with its size. */
  put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, mediaType: string): Promise<{ bytes: number }>;
  /** The file, or undefined when there is none (expired, deleted). */
  get(key: string): Promise<StoredFile | undefined>;
  delete(key: string): Promise<void>;
}

/** Keys are "<digits>/<name>" with a plain file name: nothing a caller controls can leave the root. */
export function checkKey(key: string): string {
  if (!/^\d{1,15}\/[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(key)) throw new Error(`invalid file key ${JSON.stringify(key.slice(0, 80))}`);
  return key;
}

export function fileSystemStore(root: string): FileStore {
  const base = resolve(root);
  const pathOf = (key: string) => {
    const p = resolve(join(base, checkKey(key)));
    if (!p.startsWith(base + sep)) throw new Error('file key outside the storage root');
    return p;
  };
  return {
    async put(key, body) {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      const source = body instanceof Uint8Array ? Readable.from([body]) : Readable.from(body);
      await pipeline(source, createWriteStream(path));
      return { bytes: (await stat(path)).size };
    },
    async get(key) {
      const path = pathOf(key);
      try {
        const s = await stat(path);
        return { body: createReadStream(path), bytes: s.size };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw err;
      }
    },
    async delete(key) {
      await rm(pathOf(key), { force: true });
    },
  };
}

/** A result file as the job runner records it on the generation: result_json.files[]. */
export interface ResultFile {
  key: string;
  name: string;
  media_type: string;
  bytes: number;
  width?: number;
  height?: number;
  duration?: number;
  format?: string;
}

/** The part of result_json about files; `files_expired_at` is set by the retention sweeper. */
export interface ResultFilesJson {
  files?: ResultFile[];
  /** A media job's input file (src/jobs/inputs.ts), kept as long as the outputs. */
  input?: ResultFile;
  files_expired_at?: string;
}

export function resultFilesOf(resultJson: string | null): ResultFilesJson {
  if (!resultJson) return {};
  const j = JSON.parse(resultJson) as ResultFilesJson;
  return {
    files: Array.isArray(j.files) ? j.files : undefined,
    input: j.input && typeof j.input.key === 'string' ? j.input : undefined,
    files_expired_at: j.files_expired_at,
  };
}
