// A local GGUF model served in-process, end to end: both APIs, abort, concurrency, determinism,
// and a corrupt file that must not bring the server down. The suite writes its own tiny model.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, type ClientRequest } from 'node:http';
import { settled, sseEvents, startHarness, type Harness } from '../support/harness.js';
import { serverEvents, untilEvent } from '../support/server-events.js';
import { writeCorruptGguf, writeTinyGguf } from '../../src/providers/local/tiny-gguf.js';
import type { LocalProvider } from '../../src/providers/local/index.js';

describe('local GGUF models through the gateway', () => {
  let h: Harness;
  let dir: string;
  let acct: { id: number; key: string };
  const text = (model: string) => ({
    slug: model,
    name: model,
    category: 'text',
    provider: 'local',
    min_plan: 'free',
    pricing_type: 'fixed',
    token_cost: 1,
    min_token_cost: 1,
    max_token_cost: 1,
    supports_streaming: true,
  });
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lumengate-local-e2e-'));
    await writeTinyGguf(join(dir, 'tiny.gguf'));
    await writeCorruptGguf(join(dir, 'corrupt.gguf'), 'zero-block-count');
    h = await startHarness({
      env: { LUMENGATE_MODELS_DIR: dir },
      catalog: {
        providers: { local: { threads: 1, sequences: 2, max_queue: 1 } },
        models: [
          { ...text('tiny-local'), routes: [{ provider: 'local', model: 'tiny.gguf' }] },
          { ...text('corrupt-local'), routes: [{ provider: 'local', model: 'corrupt.gguf' }] },
          { ...text('missing-local'), routes: [{ provider: 'local', model: 'hf:someone/Some-Model-GGUF:Q4_K_M' }] },
        ],
      },
    });
    acct = await h.account({ plan: 'free', tokens: 1000 });
  });
  after(async () => {
    await h.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const local = () => h.server.app.services.providers.get('local') as LocalProvider;

  it('streams through /api/v2/generate/stream and charges the flat price', async () => {
    const before = await h.balance(acct.id);
    const r = await h.post('/api/v2/generate/stream', { model: 'tiny-local', prompt: 'hello', max_tokens: 12, temperature: 0 }, acct.key);
    const events = sseEvents(r.text);
    assert.equal(events[0].type, 'generation_start');
    assert.ok(events.filter((e) => e.type === 'content_delta').length >= 2, r.text);
    assert.equal(events.at(-2).type, 'generation_end');
    assert.equal(events.at(-1), '[DONE]');
    const g = (await h.get(`/api/v2/generate/${events[0].id}`, acct.key)).json;
    assert.equal(g.status, 'completed');
    assert.equal(g.usage.output_tokens, 12);
    assert.ok(g.usage.input_tokens > 0);
    assert.equal(await h.balance(acct.id), before - 1);
  });

  it('streams through the OpenAI-compatible /v1/chat/completions', async () => {
    const res = await fetch(`${h.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${acct.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'tiny-local', messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 6, temperature: 0 }),
    });
    const chunks = sseEvents(await res.text());
    assert.equal(chunks.at(-1), '[DONE]');
    const content = chunks
      .filter((c) => typeof c === 'object')
      .map((c) => c.choices?.[0]?.delta?.content ?? '')
      .join('');
    assert.ok(content.length > 0);
    assert.ok(chunks.some((c) => c.choices?.[0]?.finish_reason === 'length'));
  });

  it('/v1/chat/completions with tools and tool_choice required returns OpenAI tool_calls and charges', async () => {
    const before = await h.balance(acct.id);
    const tools = [
      { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { enum: ['Paris', 'Oslo'] } }, required: ['city'], additionalProperties: false } } },
    ];
    const r = await h.post(
      '/v1/chat/completions',
      { model: 'tiny-local', messages: [{ role: 'user', content: 'Weather?' }], tools, tool_choice: 'required', max_tokens: 128, temperature: 0 },
      acct.key,
    );
    assert.equal(r.status, 200, r.text);
    const choice = r.json.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls.length, 1);
    const call = choice.message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.match(call.id, /^call_/);
    assert.equal(call.function.name, 'get_weather');
    assert.ok(['Paris', 'Oslo'].includes(JSON.parse(call.function.arguments).city), call.function.arguments);
    assert.equal(await h.balance(acct.id), before - 1);
  });

  it('a field local models cannot take is 400 naming it, before anything is counted or held', async () => {
    const a = await h.account({ plan: 'free', tokens: 10 });
    const remaining = (await h.get('/api/v2/balance', a.key)).headers.get('x-ratelimit-remaining-hour');
    const v1 = await h.post('/v1/chat/completions', { model: 'tiny-local', messages: [{ role: 'user', content: 'hi' }], logprobs: true }, a.key);
    assert.equal(v1.status, 400, v1.text);
    assert.equal(v1.json.error.code, 'bad_request');
    assert.equal(v1.json.error.param, 'logprobs');
    assert.equal(v1.json.error.message, 'logprobs: not supported by local models');
    assert.equal(v1.json.error.details.generation_id, undefined, 'no generation was created');
    // A message's field by the body's path: on /api/v2 after the `system` field's own system message.
    const unanswered = { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } }] };
    const history = await h.post('/v1/chat/completions', { model: 'tiny-local', messages: [{ role: 'user', content: 'hi' }, unanswered] }, a.key);
    assert.equal(history.status, 400, history.text);
    assert.equal(history.json.error.param, 'messages.1');
    assert.match(history.json.error.message, /tool call call_1 has no tool message/);
    const v2 = await h.post('/api/v2/generate', { model: 'tiny-local', system: 'Be brief.', messages: [{ role: 'user', content: 'hi', name: 'alice' }] }, a.key);
    assert.equal(v2.status, 400, v2.text);
    assert.deepEqual(v2.json.details.fields, [{ path: 'messages.0.name', message: 'not supported by local models' }]);
    assert.equal(v2.headers.get('x-ratelimit-remaining-hour'), remaining, 'no request was counted');
    assert.equal(await h.balance(a.id), 10);
    assert.deepEqual(await h.server.db.kysely.selectFrom('generations').select('id').where('account_id', '=', a.id).execute(), []);
  });

  it('temperature 0 is deterministic', async () => {
    const once = async () => (await h.post('/api/v2/generate', { model: 'tiny-local', prompt: 'same prompt', max_tokens: 10, temperature: 0 }, acct.key)).json.result_text;
    const a = await once();
    assert.ok(a.length > 0);
    assert.equal(await once(), a);
  });

  it('serves two streams at once on separate sequences', async () => {
    const both = await Promise.all([1, 2].map((i) => h.post('/api/v2/generate', { model: 'tiny-local', prompt: `p${i}`, max_tokens: 8 }, acct.key)));
    for (const r of both) assert.equal(r.json.status, 'completed');
  });

  it('a client disconnect frees the sequence (the generation stops as client_disconnected)', async () => {
    const req = request(`${h.url}/api/v2/generate/stream`, { method: 'POST', headers: { authorization: `Bearer ${acct.key}`, 'content-type': 'application/json' } });
    req.on('error', () => {});
    let got = '';
    let id = 0;
    await new Promise<void>((resolve) => {
      req.on('response', (res) => {
        id = Number(res.headers['x-generation-id']);
        res.on('data', (c) => {
          got += c;
          if (got.includes('content_delta')) resolve();
        });
      });
      req.end(JSON.stringify({ model: 'tiny-local', prompt: 'long', max_tokens: 4000 }));
    });
    const busy = local().poolState('tiny.gguf')!;
    assert.equal(busy.available, 1);
    req.destroy();
    // Waits for the event (the pool says a sequence changed hands), however busy the machine is; the
    // settled row proves it was the disconnect that freed it, not the 4000 tokens running out.
    await untilEvent([serverEvents.sequences], () => local().poolState('tiny.gguf')!.available === 2, 'the sequence freed');
    // The aborted stream still records the usage llama.cpp counted (docs/api.md).
    const g = await settled(h, id, acct.key);
    assert.equal(g.result_metadata.finish_reason, 'client_disconnected');
    assert.ok(g.usage.input_tokens > 0 && g.usage.output_tokens > 0, `usage recorded: ${JSON.stringify(g.usage)}`);
  });

  it("one account's requests cannot fill a model's queue: another account's takes the place of its newest (the account reaches the provider as ProviderRequest.tenant)", async () => {
    const a = await h.account({ plan: 'free', tokens: 100 });
    const b = await h.account({ plan: 'free', tokens: 100 });
    /** A stream that runs until the test ends it, open once its first content arrived. */
    const openLong = (key: string) =>
      new Promise<ClientRequest>((resolve) => {
        const req = request(`${h.url}/api/v2/generate/stream`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } });
        req.on('error', () => {});
        req.on('response', (res) => {
          let got = '';
          res.on('data', (c) => {
            got += c;
            if (got.includes('content_delta')) resolve(req);
          });
        });
        req.end(JSON.stringify({ model: 'tiny-local', prompt: 'long', max_tokens: 100_000 }));
      });
    const longs = [await openLong(a.key), await openLong(a.key)];
    assert.deepEqual(local().poolState('tiny.gguf'), { available: 0, queued: 0 });
    const aQueued = h.post('/api/v2/generate', { model: 'tiny-local', prompt: 'a queued', max_tokens: 3 }, a.key);
    await untilEvent([serverEvents.sequences], () => local().poolState('tiny.gguf')!.queued === 1, "A's third request queued");
    // B's request: A holds both sequences and waits for the one place in line, so B takes it.
    const bQueued = h.post('/api/v2/generate', { model: 'tiny-local', prompt: 'b queued', max_tokens: 3 }, b.key);
    const refused = await aQueued;
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.json.error, 'model_unavailable');
    assert.deepEqual(local().poolState('tiny.gguf'), { available: 0, queued: 1 });
    for (const req of longs) req.destroy();
    const served = await bQueued;
    assert.equal(served.json.status, 'completed', served.text);
    assert.equal(await h.balance(b.id), 99);
    assert.equal(await h.balance(a.id), 98, "A's refused request cost nothing (its two streams sent content)");
  });

  it('a corrupt GGUF gives a clear error and the server keeps serving', async () => {
    const before = await h.balance(acct.id);
    const r = await h.post('/api/v2/generate', { model: 'corrupt-local', prompt: 'x' }, acct.key);
    assert.ok(r.status === 500 || r.status === 503, String(r.status));
    assert.match(r.json.message, /not a valid GGUF|corrupt|block_count/i);
    assert.equal(await h.balance(acct.id), before);
    assert.equal((await h.post('/api/v2/generate', { model: 'tiny-local', prompt: 'still here', max_tokens: 3 }, acct.key)).status, 200);
  });

  it('a model file that was never pulled answers 503 naming `lumengate models pull`', async () => {
    const r = await h.post('/api/v2/generate', { model: 'missing-local', prompt: 'x' }, acct.key);
    assert.equal(r.status, 503);
    assert.equal(r.json.error, 'model_unavailable');
    assert.match(r.json.message, /lumengate models pull/);
  });
});
