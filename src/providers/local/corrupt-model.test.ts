// Broken model files must become a clear ProviderError, never a crash of the gateway process.
// Several of these would kill the process if they reached llama.cpp (GGML_ASSERT abort on zero
// block/head counts) or hang node-llama-cpp's own header reader (huge key/value count).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createLocalProvider, type LocalProvider } from './provider.js';
import { writeCorruptGguf, writeTinyGguf, writeTruncatedGguf, type GgufCorruption } from './tiny-gguf.js';
import { ProviderError, type ProviderRequest } from '../spec.js';

let dir: string;
let provider: LocalProvider;

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'lumengate-corrupt-'));
  provider = createLocalProvider('local', { threads: 1, models_dir: dir, sequences: 1 }, {});
});
after(async () => {
  await provider.close?.();
  await rm(dir, { recursive: true, force: true });
});

function request(upstreamModel: string): ProviderRequest {
  return { upstreamModel, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], temperature: 0, maxTokens: 4, signal: new AbortController().signal };
}

async function expectLoadError(file: string, code: string, message: RegExp): Promise<void> {
  await assert.rejects(provider.open(request(file)), (err: unknown) => {
    assert.ok(err instanceof ProviderError, `ProviderError expected, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.status, 500);
    assert.equal(err.retryable, false);
    assert.match(err.message, message);
    return true;
  });
}

const cases: Array<[GgufCorruption, RegExp]> = [
  ['garbage', /not a GGUF file/],
  ['huge-kv-count', /key\/value count .* does not fit/],
  ['zero-dimension', /tensor output_norm\.weight has dimension 0/],
  ['zero-block-count', /llama\.block_count must be positive/],
  ['zero-head-count', /llama\.attention\.head_count must be positive/],
];
for (const [kind, message] of cases) {
  test(`corrupt file (${kind}) is rejected before llama.cpp sees it`, async () => {
    const file = path.join(dir, `${kind}.gguf`);
    await writeCorruptGguf(file, kind);
    await expectLoadError(file, 'model_file_invalid', message);
  });
}

test('a file truncated in the tensor data names the cut-off tensor', async () => {
  const file = path.join(dir, 'truncated.gguf');
  await writeTruncatedGguf(file, 'tensor-data');
  await expectLoadError(file, 'model_file_invalid', /truncated/);
});

test('a file truncated inside the metadata is rejected', async () => {
  const file = path.join(dir, 'truncated-meta.gguf');
  await writeTruncatedGguf(file, 'metadata');
  await expectLoadError(file, 'model_file_invalid', /truncated/);
});

test('a well-formed GGUF that llama.cpp rejects gives its reason', async () => {
  const file = path.join(dir, 'missing-tensor.gguf');
  await writeCorruptGguf(file, 'missing-tensor');
  await expectLoadError(file, 'model_load_failed', /output_norm\.weight/);
});

test('after all that the process still serves a good model, and a fixed file is picked up', async () => {
  const file = path.join(dir, 'fixed.gguf');
  await writeTruncatedGguf(file);
  await expectLoadError(file, 'model_file_invalid', /truncated/);
  await writeTinyGguf(file); // the download finished: failures are not cached
  const stream = await provider.open(request(file));
  let finish;
  for await (const e of stream.parts) if (e.type === 'finish') finish = e;
  assert.equal(finish?.usage?.output_tokens, 4);
});
