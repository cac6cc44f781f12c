import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isModelUri, modelsDirFrom, pullModel, resolveLocalModelPath, ModelFileNotFoundError } from './model-files.js';
import { GgufValidationError } from './gguf-validate.js';
import { writeTinyGguf } from './tiny-gguf.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'lumengate-models-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('models directory: config, then LUMENGATE_MODELS_DIR, then ./data/models', () => {
  assert.equal(modelsDirFrom('/srv/models', { LUMENGATE_MODELS_DIR: '/env/models' }), '/srv/models');
  assert.equal(modelsDirFrom(undefined, { LUMENGATE_MODELS_DIR: '/env/models' }), '/env/models');
  assert.equal(modelsDirFrom(undefined, {}), path.resolve('data/models'));
});

test('hf: URIs and URLs are URIs, anything else is a path', () => {
  assert.equal(isModelUri('hf:user/repo/file.gguf'), true);
  assert.equal(isModelUri('hf:user/repo:Q4_K_M'), true);
  assert.equal(isModelUri('https://example.com/m.gguf'), true);
  assert.equal(isModelUri('models/m.gguf'), false);
  assert.equal(isModelUri('/abs/m.gguf'), false);
});

test('a plain file name is found in the models directory', async () => {
  const models = path.join(dir, 'plain');
  await mkdir(models);
  await writeTinyGguf(path.join(models, 'tiny.gguf'));
  assert.equal(await resolveLocalModelPath('tiny.gguf', models), path.join(models, 'tiny.gguf'));
  await assert.rejects(resolveLocalModelPath('other.gguf', models), ModelFileNotFoundError);
});

test('an hf: URI maps to its file in the models directory; the error says which file and how to pull it', async () => {
  const models = path.join(dir, 'hf');
  await mkdir(models);
  const uri = 'hf:lumengate/tiny-GGUF/tiny.Q8_0.gguf';
  await assert.rejects(resolveLocalModelPath(uri, models), (err: unknown) => {
    assert.ok(err instanceof ModelFileNotFoundError);
    assert.match(err.message, /hf_lumengate_tiny\.Q8_0\.gguf/);
    assert.match(err.message, /lumengate models pull hf:lumengate\/tiny-GGUF\/tiny\.Q8_0\.gguf/);
    return true;
  });
  const expected = path.join(models, 'hf_lumengate_tiny.Q8_0.gguf');
  await writeTinyGguf(expected);
  assert.equal(await resolveLocalModelPath(uri, models), expected);
  // The quant-tag form and the plain URL name the same file.
  assert.equal(await resolveLocalModelPath('hf:lumengate/tiny-GGUF:Q8_0', models), expected);
  assert.equal(await resolveLocalModelPath('https://huggingface.co/lumengate/tiny-GGUF/resolve/main/tiny.Q8_0.gguf', models), expected);
});

test('pullModel keeps a file that is already there (no download, no progress) and checks it', async () => {
  const models = path.join(dir, 'pull');
  await mkdir(models);
  const expected = path.join(models, 'hf_lumengate_tiny.Q8_0.gguf');
  await writeTinyGguf(expected);
  let progressCalls = 0;
  // This machine has no route to Hugging Face: resolving proves nothing was fetched.
  const file = await pullModel('hf:lumengate/tiny-GGUF/tiny.Q8_0.gguf', { modelsDir: models, onProgress: () => progressCalls++ });
  assert.equal(file, expected);
  assert.equal(progressCalls, 0);

  await writeFile(path.join(models, 'hf_lumengate_broken.gguf'), 'not a model');
  await assert.rejects(pullModel('hf:lumengate/broken-GGUF/broken.gguf', { modelsDir: models }), GgufValidationError);
});

test('pullModel resolves a local path against LUMENGATE_MODELS_DIR', async () => {
  const models = path.join(dir, 'env');
  await mkdir(models);
  await writeTinyGguf(path.join(models, 'local.gguf'));
  assert.equal(await pullModel('local.gguf', { env: { LUMENGATE_MODELS_DIR: models } }), path.join(models, 'local.gguf'));
});
