// Every route in /openapi.json (the admin API has its own document) is documented for a reader of
// /docs: a summary, a tag other than "default", an explicit `security` that matches what the route
// really does, a request body with examples, and an example of each success answer. Examples are
// checked against the documented schemas (generated from the zod schemas that validate) and sent to
// the real handlers, so they cannot drift into the nonsense Swagger UI makes up on its own.
// Generic on purpose: a new route without these fails here.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as ajv2020 from 'ajv/dist/2020.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startHarness, type Harness } from '../support/harness.js';

// ajv is CommonJS: its class is the default export's `default`.
const Ajv2020 = ajv2020.default.default;
const BODY_METHODS = new Set(['post', 'put', 'patch']);

type Op = { method: string; path: string; op: any };

/** Example values of a media type object: `example` or every `examples` entry. */
function examplesOf(media: any): unknown[] {
  if (!media) return [];
  if (media.example !== undefined) return [media.example];
  return Object.values(media.examples ?? {}).map((e: any) => e.value);
}

/** The documented request body: JSON, or a multipart upload (POST /api/v2/stt, /v1/audio/transcriptions). */
const bodyMedia = (op: any) => op.requestBody?.content?.['application/json'] ?? op.requestBody?.content?.['multipart/form-data'];

/** A multipart example as a form: a `format: binary` field's example value is the name of a small file sent in it. */
function formOf(schema: any, example: Record<string, unknown>): FormData {
  const form = new FormData();
  for (const [k, v] of Object.entries(example)) {
    if (schema.properties?.[k]?.format === 'binary') form.append(k, new Blob([new Uint8Array(64)]), String(v));
    else form.append(k, String(v));
  }
  return form;
}

describe('OpenAPI coverage: every route documented with examples', () => {
  let h: Harness;
  let spec: any;
  let ops: Op[];
  let key: string;
  // The media examples (/v1/images/generations, /v1/audio/speech) run jobs that store files: not in the working directory.
  const filesDir = mkdtempSync(join(tmpdir(), 'lumengate-docs-files-'));
  const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
  /** Validates a value against a schema of the document ($refs into components resolve). */
  const check = (schema: any, value: unknown, where: string) => {
    const validate = ajv.compile({ ...schema, components: spec.components });
    assert.ok(validate(value), `${where}: ${ajv.errorsText(validate.errors)}`);
  };

  before(async () => {
    h = await startHarness({ env: { LUMENGATE_FILES_DIR: filesDir, LUMENGATE_JOB_BACKOFF_MS: '10' } });
    spec = (await h.get('/openapi.json')).json;
    key = (await h.account({ tokens: 100 })).key;
    ops = Object.entries(spec.paths as Record<string, any>)
      .filter(([path]) => !path.startsWith('/admin'))
      .flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ method, path, op })));
  });
  after(async () => {
    await h.close();
    rmSync(filesDir, { recursive: true, force: true });
  });

  it('covers the routes of the app', () => {
    assert.ok(ops.length >= 24, `${ops.length} operations`);
  });

  it('every operation has a summary and a tag other than "default"', () => {
    for (const { method, path, op } of ops) {
      const name = `${method.toUpperCase()} ${path}`;
      assert.ok(typeof op.summary === 'string' && op.summary.length > 3, `${name} has a summary`);
      assert.ok(Array.isArray(op.tags) && op.tags.length > 0 && !op.tags.includes('default'), `${name} has a tag`);
    }
  });

  it('every operation says whether it needs a key, and that is what the server does', async () => {
    for (const { method, path, op } of ops) {
      const name = `${method.toUpperCase()} ${path}`;
      assert.ok(Array.isArray(op.security), `${name} declares security (an empty list when public)`);
      const url = h.url + path.replace(/\{[^}]+\}/g, '1');
      const res = await fetch(url, { method: method.toUpperCase(), ...(BODY_METHODS.has(method) ? { headers: { 'content-type': 'application/json' }, body: '{}' } : {}) });
      await res.arrayBuffer();
      const needsKey = op.security.length > 0;
      assert.equal(res.status === 401, needsKey, `${name}: without a key the answer is ${res.status}, documented security ${JSON.stringify(op.security)}`);
    }
  });

  it('every POST/PUT/PATCH documents its JSON (or multipart upload) body with examples that match the schema', () => {
    for (const { method, path, op } of ops.filter((o) => BODY_METHODS.has(o.method))) {
      const name = `${method.toUpperCase()} ${path}`;
      const media = bodyMedia(op);
      assert.ok(media?.schema, `${name} has a JSON or multipart body schema`);
      const examples = examplesOf(media);
      assert.ok(examples.length > 0, `${name} has a request example`);
      examples.forEach((e, i) => check(media.schema, e, `${name} request example ${i + 1}`));
    }
  });

  it('the request examples are accepted by the handlers (no 400/422)', async () => {
    for (const { method, path, op } of ops.filter((o) => BODY_METHODS.has(o.method))) {
      const media = bodyMedia(op);
      for (const example of examplesOf(media)) {
        const url = h.url + path.replace('{slug}', 'gpt-5-nano').replace(/\{[^}]+\}/g, '1');
        const res = await fetch(url, {
          method: method.toUpperCase(),
          headers: { ...(media === op.requestBody.content['application/json'] ? { 'content-type': 'application/json' } : {}), authorization: `Bearer ${key}` },
          body: media === op.requestBody.content['application/json'] ? JSON.stringify(example) : formOf(media.schema, example as Record<string, unknown>),
        });
        const text = await res.text();
        // A refusal of the example itself is a 422, or a 400 naming fields; a 400 about the state of
        // the placeholder resource (e.g. generation 1 is not a media job) says nothing of the example.
        const namesFields = res.status === 400 && /"fields"/.test(text);
        assert.ok(res.status !== 422 && !namesFields, `${method.toUpperCase()} ${path} ${JSON.stringify(example).slice(0, 80)}: ${res.status} ${text.slice(0, 200)}`);
      }
    }
  });

  it('every success answer has an example that matches its schema (binary files aside)', () => {
    for (const { method, path, op } of ops) {
      const name = `${method.toUpperCase()} ${path}`;
      const ok = Object.entries(op.responses ?? {}).filter(([status]) => /^2/.test(status));
      assert.ok(ok.length > 0, `${name} documents a success answer`);
      for (const [status, response] of ok as [string, any][]) {
        const media = Object.entries<any>(response.content ?? {});
        if (media.length === 0 || media.every(([, m]) => m.schema?.format === 'binary')) continue;
        const examples = media.flatMap(([type, m]) => examplesOf(m).map((e) => [type, m, e] as const));
        assert.ok(examples.length > 0, `${name} ${status} has an answer example`);
        for (const [type, m, e] of examples) check(m.schema, e, `${name} ${status} ${type} example`);
      }
      // Error examples, where given, match the error schema too.
      for (const [status, response] of Object.entries<any>(op.responses ?? {})) {
        if (/^2/.test(status)) continue;
        for (const [type, m] of Object.entries<any>(response.content ?? {})) for (const e of examplesOf(m)) check(m.schema, e, `${name} ${status} ${type} example`);
      }
    }
  });
});
