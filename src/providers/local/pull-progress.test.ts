import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { createPullProgressPrinter } from './pull-progress.js';

test('the progress printer shows percentage and megabytes', () => {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  const printer = createPullProgressPrinter('tiny.gguf', out);
  printer.onProgress({ totalSize: 100e6, downloadedSize: 0 });
  printer.onProgress({ totalSize: 100e6, downloadedSize: 50e6 });
  printer.stop();
  assert.match(text, /tiny\.gguf/);
  assert.match(text, /50% 50\.0\/100\.0 MB/);
});
