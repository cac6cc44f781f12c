// Every Style C option a provider module declares (src/providers/media-options.ts) must reach the
// upstream: for each media model of the shipped catalog and each of its routes, the request the
// module sends with the option differs from the one it sends without it. A declaration that
// claims an option its mapper drops fails here. The upstream is one recording server on
// 127.0.0.1 that refuses every call (400): only what the module sends matters.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakeMedia, never, type FakeMediaServer } from '../../test/support/fake-media.js';
import { loadCatalog } from '../config/catalog.js';
import { MEDIA_PROVIDER_TYPES, mediaOptions } from './media-options.js';
import { unreadableOption } from './media-http.js';
import { defaultProviderFactories } from './registry.js';
import type { MediaKind, MediaRequest, Provider } from './spec.js';

const NUMBERS: Record<string, number> = {
  duration: 3,
  speed: 1.5,
  seed: 42,
  stability: 0.3,
  similarity_boost: 0.4,
  style_exaggeration: 0.5,
  temperature: 0.2,
  scale: 2,
  num_speakers: 2,
  prompt_influence: 0.6,
};
const BOOLEANS = new Set(['loop', 'diarize', 'face_enhance', 'watermark']);
const SPECIAL: Record<string, unknown> = {
  // Values the modules map rather than pass on: an aspect ratio Sora has a size for, eSpeak voices.
  aspect_ratio: '16:9',
  voice_id: 'de',
  language: 'de',
  format: 'wav',
  target_lang: 'de',
  inputs: [{ text: 'hi', voice_id: 'voice-1' }],
  voices: { Anna: 'voice-anna' },
};

/** A value of the right type for `name`, different from any base value. */
function sample(name: string): unknown {
  if (name in NUMBERS) return NUMBERS[name];
  if (BOOLEANS.has(name)) return true;
  if (name in SPECIAL) return SPECIAL[name];
  if (name.endsWith('_url')) return `https://example.test/${name}.png`;
  return `sample-${name}`;
}

/** What a model needs before its module sends anything (a dub's target language, a dialogue's speakers). */
const BASE: Record<string, { prompt?: string; options?: Record<string, unknown> }> = {
  dubbing: { options: { target_lang: 'es' } },
  eleven_v3: { prompt: 'Anna: hello' },
};

const png = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3, 4]);

describe('media option declarations', () => {
  let upstream: FakeMediaServer;
  const providers = new Map<string, Provider>();
  before(async () => {
    upstream = await startFakeMedia(() => ({ status: 400, json: { error: 'recorded' } }));
  });
  after(async () => {
    for (const p of providers.values()) await p.close?.();
    await upstream.close();
  });

  const providerOf = (type: string): Provider => {
    let p = providers.get(type);
    if (!p) {
      p = defaultProviderFactories[type]!(type, { type, base_url: `${upstream.origin}/v1`, api_key: 'test-key' });
      providers.set(type, p);
    }
    return p;
  };

  /** What the module sends for `req` (method, path and body, multipart boundaries normalised), or the WAV eSpeak makes. */
  async function wire(type: string, req: MediaRequest): Promise<string | undefined> {
    const seen = upstream.requests.length;
    let answer: unknown;
    try {
      const progress = await providerOf(type).media!.start(req);
      answer = progress.state === 'done' ? progress.result.files.map((f) => Buffer.from(f.data ?? []).toString('base64')) : undefined;
    } catch {
      // The recording upstream refuses every call; a module that refuses first sends nothing.
    }
    const sent = upstream.requests.slice(seen).map((r) => `${r.method} ${r.path}\n${r.raw.toString('latin1').replace(/formdata-undici-\d+/g, 'formdata-undici-B')}`);
    if (sent.length > 0) return sent.join('\n');
    return answer === undefined ? undefined : JSON.stringify(answer);
  }

  const catalog = loadCatalog();
  const kinds = new Set(['image', 'video', 'audio', 'tts', 'stt', 'tool']);
  const routes = catalog.models
    .filter((m) => kinds.has(m.category))
    .flatMap((m) => m.routes.map((r) => ({ slug: m.slug, kind: m.category as MediaKind, type: catalog.providers[r.provider]?.type ?? r.provider, upstream: r.model })));

  it('the catalog routes media models to every provider type with declarations', () => {
    assert.deepEqual([...new Set(routes.map((r) => r.type))].sort(), [...MEDIA_PROVIDER_TYPES].sort());
  });

  for (const r of routes) {
    it(`${r.slug} (${r.type} ${r.upstream}): every declared option changes the request`, async () => {
      const declared = [...mediaOptions(r.type, r.kind, r.upstream)];
      const base = BASE[r.upstream] ?? {};
      const mediaType = r.kind === 'stt' || r.upstream.includes('_sts_') || r.upstream === 'audio-isolation' || r.upstream === 'dubbing' ? 'audio/wav' : 'image/png';
      const request = (prompt: string | undefined, options: Record<string, unknown>): MediaRequest => ({
        kind: r.kind,
        upstreamModel: r.upstream,
        options,
        input: { data: png, mediaType },
        signal: never,
        ...(prompt !== undefined ? { prompt } : {}),
      });
      for (const name of declared) {
        const { [name]: _given, ...without } = base.options ?? {};
        const basePrompt = name === 'prompt' ? undefined : (base.prompt ?? 'hello there');
        const plain = await wire(r.type, request(basePrompt, without));
        const withIt = name === 'prompt' ? request(base.prompt ? `${base.prompt} again` : 'a different sample prompt', without) : request(basePrompt, { ...without, [name]: sample(name) });
        const sent = await wire(r.type, withIt);
        assert.ok(sent !== undefined, `${r.slug}: nothing was sent with ${name}`);
        assert.notEqual(sent, plain, `${r.slug}: the declared option "${name}" does not reach the ${r.type} upstream`);
        // And the submission's type check (unreadableOption) lets the value the module reads through.
        if (name !== 'prompt') assert.equal(unreadableOption(name, sample(name)), undefined, `${r.slug}: "${name}" is refused with a value its module reads`);
      }
    });
  }
});
