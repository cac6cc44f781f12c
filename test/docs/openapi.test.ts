// /openapi.json is OpenAPI 3.1 covering every route; /docs serves Swagger UI; documentation
// schemas never take over validation (our zod 400/422 split) or reshape responses.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startHarness, type Harness } from '../support/harness.js';

/** "METHOD /path/{param}" for every route in Fastify's printRoutes tree (HEAD left out). */
function appRoutes(tree: string): string[] {
  const out: string[] = [];
  const stack: string[] = [];
  for (const line of tree.split('\n')) {
    const m = /^([│ ]*)[├└]── (\S+) \(([^)]+)\)$/.exec(line);
    if (!m) continue;
    const depth = m[1]!.length / 4;
    stack.length = depth;
    const path = (stack[depth - 1] ?? '') + m[2];
    stack[depth] = path;
    for (const method of m[3]!.split(', ')) if (method !== 'HEAD') out.push(`${method} ${path.replace(/:(\w+)/g, '{$1}')}`);
  }
  return out;
}

describe('OpenAPI document and docs UI', () => {
  let h: Harness;
  let spec: any;
  before(async () => {
    h = await startHarness();
    spec = (await h.get('/openapi.json')).json;
  });
  after(() => h.close());

  it('is OpenAPI 3.1 and lists every route of the app except the pages (docs, dashboard)', () => {
    assert.match(spec.openapi, /^3\.1\./);
    const documented = Object.entries(spec.paths).flatMap(([path, ops]: [string, any]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    const routes = appRoutes(h.server.app.printRoutes({ commonPrefix: false })).filter((r) => !/ \/(docs|dashboard)|\/openapi\.json$|^GET \/$/.test(r));
    assert.ok(routes.length >= 15, `parsed ${routes.length} routes`);
    for (const r of routes) assert.ok(documented.includes(r), `${r} is in /openapi.json`);
    for (const r of ['POST /api/v2/generate', 'POST /api/v2/generate/stream', 'GET /api/v2/generate/{id}', 'POST /v1/chat/completions', 'GET /v1/models', 'GET /metrics', 'GET /readyz']) {
      assert.ok(documented.includes(r), r);
    }
  });

  it('the generate body schema has model; error responses reference the error envelope', () => {
    const op = spec.paths['/api/v2/generate'].post;
    const body = op.requestBody.content['application/json'].schema;
    assert.equal(body.properties.model.type, 'string');
    assert.ok(body.required.includes('model'));
    for (const status of ['400', '401', '402', '404', '422', '500', '503']) {
      assert.equal(op.responses[status].content['application/json'].schema.$ref, '#/components/schemas/ErrorEnvelope', status);
    }
    assert.equal(op.responses['200'].content['application/json'].schema.$ref, '#/components/schemas/Generation');
    assert.ok(spec.components.schemas.Generation.required.includes('tokens_spent'));
    assert.deepEqual(spec.components.schemas.ErrorEnvelope.required, ['error', 'message', 'details']);
    assert.equal(spec.paths['/v1/chat/completions'].post.responses['401'].content['application/json'].schema.$ref, '#/components/schemas/OpenAIError');
    assert.ok(spec.paths['/v1/chat/completions'].post.requestBody.content['application/json'].schema.properties.messages);
    assert.deepEqual(op.security, [{ bearerAuth: [] }]);
    assert.equal(spec.components.securitySchemes.bearerAuth.scheme, 'bearer');
  });

  it('tools, structured output, content parts, /v1/responses and /v1/embeddings each have a request example', () => {
    const examplesOf = (path: string): any[] => {
      const media = spec.paths[path].post.requestBody.content['application/json'];
      return media.examples ? Object.values(media.examples).map((e: any) => e.value) : [media.example];
    };
    const v2 = examplesOf('/api/v2/generate');
    assert.ok(
      v2.some((e) => e.tools?.[0]?.function?.name === 'get_weather'),
      'a tools example',
    );
    assert.ok(
      v2.some((e) => e.response_format?.type === 'json_schema'),
      'a structured output example',
    );
    assert.ok(
      v2.some((e) => e.messages?.[0]?.content?.some?.((p: any) => p.type === 'image_url')),
      'a content parts example',
    );
    assert.ok(
      examplesOf('/v1/chat/completions').some((e) => e.messages.some((m: any) => m.role === 'tool')),
      'a tool result example',
    );
    assert.ok(
      examplesOf('/v1/responses').some((e) => e.previous_response_id),
      'a /v1/responses example',
    );
    assert.equal(examplesOf('/v1/embeddings')[0].model, 'text-embedding-3-small');
  });

  it('every $ref resolves inside the document', () => {
    const refs = JSON.stringify(spec).match(/"\$ref":"[^"]+"/g) ?? [];
    assert.ok(refs.length > 10);
    for (const r of new Set(refs)) {
      const path = r.slice(8, -1);
      assert.ok(path.startsWith('#/'), path);
      const target = path
        .slice(2)
        .split('/')
        .reduce((o: any, k) => o?.[k], spec);
      assert.ok(target, `${path} resolves`);
    }
  });

  it('/docs serves the Swagger UI page', async () => {
    const res = await fetch(`${h.url}/docs`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/html/);
    assert.match(await res.text(), /swagger-ui/i);
  });

  it('documented bodies are still validated by zod: 400 for missing, 422 for wrong values, and the answer is not reshaped by a response schema', async () => {
    const a = await h.account({ tokens: 10 });
    const missing = await h.post('/api/v2/generate', { prompt: 'x' }, a.key);
    assert.equal(missing.status, 400);
    assert.equal(missing.json.error, 'bad_request');
    const wrong = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'x', temperature: 9 }, a.key);
    assert.equal(wrong.status, 422);
    assert.equal(wrong.json.error, 'validation_error');
    assert.equal(wrong.json.details.fields[0].path, 'temperature');
    // The response is not reshaped by a response schema: every generation field is there.
    const ok = await h.post('/api/v2/generate', { model: 'gpt-5-nano', prompt: 'x' }, a.key);
    assert.equal(ok.status, 200);
    assert.deepEqual(Object.keys(ok.json).sort(), [...spec.components.schemas.Generation.required].sort());
  });
});
