// The S3-compatible FileStore: LUMENGATE_STORAGE_URL=s3://bucket/prefix, with the usual AWS_*
// variables (AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN,
// AWS_ENDPOINT_URL for MinIO, R2, Ceph …). Path-style addressing works with every such server.
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { checkKey, type FileStore } from './files.js';

// Streams of unknown length go up in parts (S3 needs each part's length); 8 MiB is above S3's 5 MiB minimum.
const PART_BYTES = 8 * 1024 * 1024;

export function parseStorageUrl(url: string): { bucket: string; prefix: string } {
  const u = new URL(url);
  const prefix = u.pathname.replace(/^\/+|\/+$/g, '');
  return { bucket: u.hostname, prefix: prefix ? `${prefix}/` : '' };
}

export function s3Client(env: NodeJS.ProcessEnv): S3Client {
  const endpoint = env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined;
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY, sessionToken: env.AWS_SESSION_TOKEN || undefined }
      : undefined; // the SDK's default chain (profile, instance role …)
  // Checksums only where S3 requires them: many S3-compatible servers reject the SDK's default trailers.
  return new S3Client({
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    endpoint,
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export function s3Store(url: string, env: NodeJS.ProcessEnv, client: S3Client = s3Client(env)): FileStore {
  const { bucket, prefix } = parseStorageUrl(url);
  const Key = (key: string) => prefix + checkKey(key);

  async function putParts(key: string, body: AsyncIterable<Uint8Array>, mediaType: string): Promise<number> {
    let uploadId: string | undefined;
    const parts: { ETag: string | undefined; PartNumber: number }[] = [];
    let pending: Uint8Array[] = [];
    let pendingBytes = 0;
    let total = 0;
    const flush = async () => {
      uploadId ??= (await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: Key(key), ContentType: mediaType }))).UploadId;
      const PartNumber = parts.length + 1;
      const r = await client.send(new UploadPartCommand({ Bucket: bucket, Key: Key(key), UploadId: uploadId, PartNumber, Body: Buffer.concat(pending) }));
      parts.push({ ETag: r.ETag, PartNumber });
      pending = [];
      pendingBytes = 0;
    };
    try {
      for await (const chunk of body) {
        pending.push(chunk);
        pendingBytes += chunk.byteLength;
        total += chunk.byteLength;
        if (pendingBytes >= PART_BYTES) await flush();
      }
      if (uploadId === undefined) {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: Key(key), Body: Buffer.concat(pending), ContentType: mediaType }));
        return total;
      }
      if (pendingBytes > 0) await flush();
      await client.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: Key(key), UploadId: uploadId, MultipartUpload: { Parts: parts } }));
      return total;
    } catch (err) {
      // An abandoned multipart upload is billed storage until aborted.
      if (uploadId) await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: Key(key), UploadId: uploadId })).catch(() => {});
      throw err;
    }
  }

  return {
    async put(key, body, mediaType) {
      if (body instanceof Uint8Array) {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: Key(key), Body: body, ContentType: mediaType }));
        return { bytes: body.byteLength };
      }
      return { bytes: await putParts(key, body, mediaType) };
    },
    async get(key) {
      try {
        const r = await client.send(new GetObjectCommand({ Bucket: bucket, Key: Key(key) }));
        return { body: r.Body as Readable, bytes: r.ContentLength ?? 0 };
      } catch (err) {
        if (err instanceof S3ServiceException && (err.name === 'NoSuchKey' || err.$metadata.httpStatusCode === 404)) return undefined;
        throw err;
      }
    },
    async delete(key) {
      // S3 answers 204 for a key that is not there: deleting twice is fine.
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: Key(key) }));
    },
  };
}
