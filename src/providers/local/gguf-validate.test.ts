import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { GgufValidationError, validateGgufFile } from './gguf-validate.js';
import { buildTinyGguf } from './tiny-gguf.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'lumengate-gguf-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('the tiny model is a valid GGUF with the expected header', async () => {
  const file = path.join(dir, 'tiny.gguf');
  const bytes = buildTinyGguf();
  await writeFile(file, bytes);
  const summary = await validateGgufFile(file);
  assert.equal(summary.version, 3);
  assert.equal(summary.architecture, 'llama');
  assert.equal(summary.tensorCount, 3 + 2 * 9);
  assert.equal(summary.metadata.get('llama.embedding_length'), 64);
  assert.deepEqual(summary.metadata.get('tokenizer.ggml.tokens'), { arrayLength: 260 });
  assert.equal(summary.dataOffset % 32, 0);
  assert.equal(summary.fileSize, bytes.length);
});

test('the writer is deterministic per seed', () => {
  assert.ok(buildTinyGguf({ seed: 5 }).equals(buildTinyGguf({ seed: 5 })));
  assert.ok(!buildTinyGguf({ seed: 5 }).equals(buildTinyGguf({ seed: 6 })));
});

test('any truncation or header corruption is a GgufValidationError, never another error or a hang', async () => {
  const good = buildTinyGguf();
  const file = path.join(dir, 'fuzz.gguf');
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.record({ kind: fc.constant('cut' as const), at: fc.integer({ min: 0, max: good.length - 1 }) }),
        fc.record({
          kind: fc.constant('flip' as const),
          // Bytes inside the header (metadata + tensor infos), where a flip changes structure.
          at: fc.integer({ min: 0, max: 12_000 }),
          value: fc.integer({ min: 0, max: 255 }),
        }),
      ),
      async (c) => {
        const bytes = Buffer.from(good);
        await writeFile(file, c.kind === 'cut' ? bytes.subarray(0, c.at) : (bytes.writeUInt8(c.value, c.at), bytes));
        let rejected = false;
        try {
          await validateGgufFile(file);
        } catch (err) {
          assert.ok(err instanceof GgufValidationError, `unexpected ${String(err)}`);
          rejected = true;
        }
        // Every cut loses tensor bytes (the last tensor ends the file), so it must be noticed.
        if (c.kind === 'cut') assert.ok(rejected, `file cut at byte ${c.at} was accepted`);
      },
    ),
    { numRuns: 150, seed: 42 },
  );
});
