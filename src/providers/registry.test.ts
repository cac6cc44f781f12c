import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeOpenAI, type FakeUpstream } from '../../test/support/fake-openai.js';
import { FAKE_ELEVENLABS_KEY, startFakeElevenLabs } from '../../test/support/fake-elevenlabs.js';
import { drain, request } from '../../test/support/provider-conformance.js';
import { buildProviders, envPrefix, providerPresets, resolveProviderConfig, type ProviderFactory } from './registry.js';

describe('registry: config from catalog and environment', () => {
  it('derives env var prefixes from provider ids', () => {
    assert.equal(envPrefix('openai'), 'OPENAI');
    assert.equal(envPrefix('my-vllm.2'), 'MY_VLLM_2');
  });

  it('ships the presets with their base URLs, local servers flagged keyless', () => {
    assert.equal(providerPresets.openai?.base_url, 'https://api.openai.com/v1');
    assert.equal(providerPresets.anthropic?.type, 'anthropic');
    assert.equal(providerPresets.google?.base_url, 'https://generativelanguage.googleapis.com/v1beta');
    assert.equal(providerPresets.ollama?.api_key_required, false);
    assert.equal(providerPresets.vllm?.api_key_required, false);
    assert.equal(providerPresets.openrouter?.api_key_required, undefined);
  });

  it('makes a provider available once its API key is in the environment, with the preset base URL', () => {
    const resolved = resolveProviderConfig('openai', providerPresets.openai!, { OPENAI_API_KEY: 'sk-live' });
    assert.deepEqual(resolved, { ok: true, config: { type: 'openai', base_url: 'https://api.openai.com/v1', api_key: 'sk-live' } });
  });

  it('lets <ID>_BASE_URL and <ID>_API_KEY override the catalog', () => {
    const entry = { type: 'openai-compatible', base_url: 'https://catalog.example/v1', api_key: 'from-catalog' };
    const resolved = resolveProviderConfig('my-proxy', entry, { MY_PROXY_BASE_URL: 'http://127.0.0.1:9/v1', MY_PROXY_API_KEY: 'from-env' });
    assert.deepEqual(resolved, { ok: true, config: { type: 'openai-compatible', base_url: 'http://127.0.0.1:9/v1', api_key: 'from-env' } });
  });

  it('names the missing env var as the reason a provider is unavailable', () => {
    const registry = buildProviders(providerPresets, { OPENAI_API_KEY: '   ' });
    assert.equal(registry.get('openai'), undefined);
    assert.equal(registry.unavailableReason('openai'), 'set OPENAI_API_KEY');
    assert.equal(registry.unavailableReason('anthropic'), 'set ANTHROPIC_API_KEY');
    assert.equal(registry.unavailableReason('openrouter'), 'set OPENROUTER_API_KEY');
    assert.equal(registry.unavailableReason('nope'), 'unknown provider "nope"');
    // Only the in-process local providers (GGUF text, eSpeak speech) need no key.
    assert.deepEqual(registry.ids(), ['local', 'local-tts']);
    assert.equal(registry.unavailableReason('luma'), 'set LUMA_API_KEY');
    assert.equal(registry.unavailableReason('elevenlabs'), 'set ELEVENLABS_API_KEY');
  });

  it('needs OLLAMA_BASE_URL for ollama (no key), and then uses it', () => {
    assert.equal(buildProviders(providerPresets, {}).unavailableReason('ollama'), 'set OLLAMA_BASE_URL');
    assert.equal(buildProviders(providerPresets, {}).unavailableReason('vllm'), 'set VLLM_BASE_URL');
    const resolved = resolveProviderConfig('ollama', providerPresets.ollama!, { OLLAMA_BASE_URL: 'http://127.0.0.1:11434/v1' });
    assert.deepEqual(resolved, { ok: true, config: { type: 'openai-compatible', base_url: 'http://127.0.0.1:11434/v1' } });
    const registry = buildProviders(providerPresets, { OLLAMA_BASE_URL: 'http://127.0.0.1:11434/v1' });
    assert.equal(registry.get('ollama')?.id, 'ollama');
    assert.equal(registry.unavailableReason('ollama'), '');
  });

  it('builds each type with its factory and reports unknown types', () => {
    const made: string[] = [];
    const fakeFactory: ProviderFactory = (id, cfg) => {
      made.push(`${id}:${cfg.base_url}`);
      return { id, open: () => Promise.reject(new Error('unused')) };
    };
    const registry = buildProviders(
      { box: { type: 'local', base_url: 'file:///models' }, odd: { type: 'carrier-pigeon', base_url: 'x' } },
      { BOX_API_KEY: 'k', ODD_API_KEY: 'k' },
      { local: fakeFactory },
    );
    assert.deepEqual(made, ['box:file:///models']);
    assert.equal(registry.get('box')?.id, 'box');
    assert.equal(registry.unavailableReason('odd'), 'unknown provider type "carrier-pigeon"');
  });

  it('builds every shipped provider type when their keys are set (local needs none)', () => {
    const registry = buildProviders(providerPresets, { OPENAI_API_KEY: 'a', ANTHROPIC_API_KEY: 'b', GOOGLE_API_KEY: 'c', XAI_API_KEY: 'd' });
    assert.deepEqual(registry.ids().sort(), ['anthropic', 'google', 'local', 'local-tts', 'openai', 'xai']);
  });

  it('gives openai, google, luma, elevenlabs and local-tts media; text-only providers none', async () => {
    const registry = buildProviders(providerPresets, { OPENAI_API_KEY: 'a', GOOGLE_API_KEY: 'c', LUMA_API_KEY: 'l', ELEVENLABS_API_KEY: 'e', DEEPSEEK_API_KEY: 'd' });
    for (const id of ['openai', 'google', 'luma', 'elevenlabs', 'local-tts']) assert.equal(typeof registry.get(id)?.media?.start, 'function', id);
    assert.equal(typeof registry.get('luma')?.media?.poll, 'function');
    assert.equal(registry.get('deepseek')?.media, undefined);
    assert.equal(typeof registry.get('openai')?.embed, 'function', 'composing media keeps embeddings');
    await registry.closeAll();
  });
});

describe('registry: media providers use <ID>_BASE_URL and <ID>_API_KEY', () => {
  it('ELEVENLABS_BASE_URL / ELEVENLABS_API_KEY reach the ElevenLabs fake', async () => {
    const fake = await startFakeElevenLabs();
    const registry = buildProviders(providerPresets, { ELEVENLABS_BASE_URL: `${fake.origin}/v1`, ELEVENLABS_API_KEY: FAKE_ELEVENLABS_KEY });
    const out = await registry.get('elevenlabs')!.media!.start({ kind: 'tts', upstreamModel: 'eleven_flash_v2_5', prompt: 'hi', options: {}, signal: new AbortController().signal });
    assert.equal(out.state, 'done');
    assert.equal(fake.requests.at(-1)!.headers['xi-api-key'], FAKE_ELEVENLABS_KEY);
    await registry.closeAll();
    await fake.close();
  });
});

describe('registry: a resolved provider talks to the overridden base URL with the env key', () => {
  let fake: FakeUpstream;
  before(async () => (fake = await startFakeOpenAI()));
  after(() => fake.close());

  it('streams from DEEPSEEK_BASE_URL with DEEPSEEK_API_KEY', async () => {
    const registry = buildProviders(providerPresets, { DEEPSEEK_BASE_URL: `${fake.origin}/v1`, DEEPSEEK_API_KEY: 'sk-ds' });
    const provider = registry.get('deepseek');
    assert.ok(provider);
    const got = await drain((await provider.open(request({ upstreamModel: 'deepseek-chat' }))).parts);
    assert.deepEqual(got.deltas, ['Hello', ', world']);
    const seen = fake.requests.at(-1)!;
    assert.equal(seen.headers.authorization, 'Bearer sk-ds');
    assert.equal(seen.body.model, 'deepseek-chat');
  });
});
