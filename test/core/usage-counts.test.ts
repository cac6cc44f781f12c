// Token counts as OpenAI-compatible upstreams report them, through the gateway to every surface:
// xAI counts reasoning tokens beside completion_tokens, not inside them as OpenAI does (its total
// is prompt + completion + reasoning); the gateway reports OpenAI's meaning, where the completion
// includes the reasoning, instead of an answer that looks 90 % shorter than it was.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { settled, sseEvents, startHarness, type Harness } from '../support/harness.js';
import { startFakeOpenAI } from '../support/fake-openai.js';
import type { FakeUpstream } from '../support/fake-upstream.js';

/** An OpenAI-compatible chat.completion.chunk stream (xAI's layout): text, then the finish chunk carrying `usage`, then [DONE]. */
function xaiStream(usage: Record<string, unknown>): string {
  const head = { id: 'a1b2c3d4-xai', object: 'chat.completion.chunk', created: 1735689600, model: 'grok-4-fast-reasoning', system_fingerprint: 'fp_9f2b5e4c1a' };
  const frame = (o: unknown) => `data: ${JSON.stringify(o)}\n\n`;
  return (
    frame({ ...head, choices: [{ index: 0, delta: { content: 'Hi there', role: 'assistant' } }] }) +
    frame({ ...head, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }], usage }) +
    'data: [DONE]\n\n'
  );
}

const xaiUsage = {
  prompt_tokens: 32,
  completion_tokens: 9,
  total_tokens: 135,
  prompt_tokens_details: { text_tokens: 32, audio_tokens: 0, image_tokens: 0, cached_tokens: 6 },
  completion_tokens_details: { reasoning_tokens: 94, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  num_sources_used: 0,
};

describe('reasoning tokens an upstream counts beside the completion (xAI)', () => {
  let h: Harness;
  let xai: FakeUpstream;
  let acct: { id: number; key: string };
  before(async () => {
    xai = await startFakeOpenAI();
    h = await startHarness({ env: { XAI_API_KEY: 'xai-fake', XAI_BASE_URL: `${xai.origin}/v1` } });
    acct = await h.account({ plan: 'pro', tokens: 100 });
  });
  after(async () => {
    await h.close();
    await xai.close();
  });

  const ask = { model: 'grok-4-fast', messages: [{ role: 'user', content: 'Say hi' }] };

  it('/v1/chat/completions, streamed and not, /v1/responses and the generation: completion includes the reasoning, total is the upstream total', async () => {
    xai.respondWith({ chunks: [], raw: xaiStream(xaiUsage), ending: 'truncate' });
    const whole = await h.post('/v1/chat/completions', ask, acct.key);
    assert.equal(whole.status, 200, whole.text);
    assert.equal(whole.json.choices[0].message.content, 'Hi there');
    assert.deepEqual(whole.json.usage, {
      prompt_tokens: 32,
      completion_tokens: 103,
      total_tokens: 135,
      prompt_tokens_details: { cached_tokens: 6 },
      completion_tokens_details: { reasoning_tokens: 94 },
    });
    const g = await settled(h, whole.json.lumengate.generation_id, acct.key);
    assert.deepEqual(g.usage, { input_tokens: 32, output_tokens: 103, total_tokens: 135, reasoning_tokens: 94, cached_input_tokens: 6 });

    xai.respondWith({ chunks: [], raw: xaiStream(xaiUsage), ending: 'truncate' });
    const streamed = await h.post('/v1/chat/completions', { ...ask, stream: true, stream_options: { include_usage: true } }, acct.key);
    assert.equal(streamed.status, 200, streamed.text);
    const usage = sseEvents(streamed.text)
      .filter((e) => e !== '[DONE]' && e.usage)
      .at(-1)!.usage;
    assert.deepEqual([usage.prompt_tokens, usage.completion_tokens, usage.total_tokens, usage.completion_tokens_details.reasoning_tokens], [32, 103, 135, 94]);

    xai.respondWith({ chunks: [], raw: xaiStream(xaiUsage), ending: 'truncate' });
    const response = await h.post('/v1/responses', { model: 'grok-4-fast', input: 'Say hi' }, acct.key);
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.json.usage, { input_tokens: 32, input_tokens_details: { cached_tokens: 6 }, output_tokens: 103, output_tokens_details: { reasoning_tokens: 94 }, total_tokens: 135 });
  });

  it('without a total, reasoning larger than the completion can only be beside it; OpenAI-style counts (reasoning inside) stay as they are', async () => {
    const { total_tokens: _, ...noTotal } = xaiUsage;
    xai.respondWith({ chunks: [], raw: xaiStream(noTotal), ending: 'truncate' });
    const r = await h.post('/v1/chat/completions', ask, acct.key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual([r.json.usage.completion_tokens, r.json.usage.total_tokens, r.json.usage.completion_tokens_details.reasoning_tokens], [103, 135, 94]);

    // OpenAI's meaning: 40 completion tokens of which 30 reasoning, total 52.
    const openAIStyle = { prompt_tokens: 12, completion_tokens: 40, total_tokens: 52, completion_tokens_details: { reasoning_tokens: 30 } };
    xai.respondWith({ chunks: [], raw: xaiStream(openAIStyle), ending: 'truncate' });
    const same = await h.post('/v1/chat/completions', ask, acct.key);
    assert.equal(same.status, 200, same.text);
    assert.deepEqual([same.json.usage.prompt_tokens, same.json.usage.completion_tokens, same.json.usage.total_tokens, same.json.usage.completion_tokens_details.reasoning_tokens], [12, 40, 52, 30]);
  });
});

describe('cached input tokens an upstream reports in its own field (DeepSeek)', () => {
  let h: Harness;
  let deepseek: FakeUpstream;
  let acct: { id: number; key: string };
  before(async () => {
    deepseek = await startFakeOpenAI();
    h = await startHarness({ env: { DEEPSEEK_API_KEY: 'ds-fake', DEEPSEEK_BASE_URL: `${deepseek.origin}/v1` } });
    acct = await h.account({ plan: 'pro', tokens: 100 });
  });
  after(async () => {
    await h.close();
    await deepseek.close();
  });

  it('prompt_cache_hit_tokens is the cached input on /v1 chat, /v1/responses and the generation; the reasoning stays inside the completion', async () => {
    // DeepSeek's documented usage: the cache in prompt_cache_hit_tokens / _miss_tokens, no prompt_tokens_details.
    const usage = { prompt_tokens: 20, completion_tokens: 50, total_tokens: 70, prompt_cache_hit_tokens: 16, prompt_cache_miss_tokens: 4, completion_tokens_details: { reasoning_tokens: 45 } };
    deepseek.respondWith({ chunks: [], raw: xaiStream(usage), ending: 'truncate' });
    const r = await h.post('/v1/chat/completions', { model: 'deepseek-r1', messages: [{ role: 'user', content: 'Say hi' }] }, acct.key);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.usage, { prompt_tokens: 20, completion_tokens: 50, total_tokens: 70, prompt_tokens_details: { cached_tokens: 16 }, completion_tokens_details: { reasoning_tokens: 45 } });
    const g = await settled(h, r.json.lumengate.generation_id, acct.key);
    assert.equal(g.usage.cached_input_tokens, 16);

    deepseek.respondWith({ chunks: [], raw: xaiStream(usage), ending: 'truncate' });
    const response = await h.post('/v1/responses', { model: 'deepseek-r1', input: 'Say hi' }, acct.key);
    assert.equal(response.status, 200, response.text);
    assert.deepEqual(response.json.usage.input_tokens_details, { cached_tokens: 16 });
  });
});
