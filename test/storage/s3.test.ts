// The S3 store (LUMENGATE_STORAGE_URL=s3://bucket/prefix, AWS_ENDPOINT_URL) against a real
// S3-compatible server (s3rver) on 127.0.0.1, checked through the gateway and past it.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { s3Client, s3Store } from '../../src/storage/s3.js';
import { storageSuite } from './suite.js';
import { bytesOf, S3_ENV, startS3 } from './support.js';

const BUCKET = 'lumengate-test';

describe('result files on S3', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lumengate-s3-'));
  let s3: Awaited<ReturnType<typeof startS3>>;
  let env: Record<string, string>;
  storageSuite({
    async env() {
      s3 = await startS3(dir, BUCKET);
      env = S3_ENV(s3.endpoint, `s3://${BUCKET}/results`);
      return env;
    },
    async holds(key) {
      // Under the prefix, looked at with a client of its own.
      try {
        await s3Client(env).send(new HeadObjectCommand({ Bucket: BUCKET, Key: `results/${key}` }));
        return true;
      } catch (err) {
        if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
        throw err;
      }
    },
    async close() {
      await s3.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });

  it('a streamed put larger than one part goes up in parts and reads back whole', async () => {
    const store = s3Store(`s3://${BUCKET}/results`, env);
    const whole = bytesOf(9 * 1024 * 1024 + 12345, 5);
    async function* chunks() {
      for (let i = 0; i < whole.length; i += 1 << 20) yield whole.subarray(i, i + (1 << 20));
    }
    assert.deepEqual(await store.put('77/video.mp4', chunks(), 'video/mp4'), { bytes: whole.byteLength });
    const got = await store.get('77/video.mp4');
    assert.ok(got);
    assert.equal(got.bytes, whole.byteLength);
    const read: Buffer[] = [];
    for await (const c of got.body) read.push(c as Buffer);
    assert.ok(Buffer.concat(read).equals(whole));
    await store.delete('77/video.mp4');
    assert.equal(await store.get('77/video.mp4'), undefined);
  });
});
