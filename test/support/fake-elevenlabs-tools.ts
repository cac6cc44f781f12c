// A fake of ElevenLabs' Text to Dialogue and (v1) Dubbing endpoints with their real shapes:
// POST /v1/text-to-dialogue (JSON {inputs:[{text, voice_id}], model_id}) answers audio bytes;
// POST /v1/dubbing (multipart: source_url or file, target_lang, …) answers {dubbing_id,
// expected_duration_sec}; GET /v1/dubbing/{id} answers the metadata (status dubbing -> dubbed |
// failed, one step per look, or held until release()); GET /v1/dubbing/{id}/audio/{lang} the dubbed
// file; DELETE /v1/dubbing/{id} {status: "ok"}. Errors as {detail:{status, message}}.
import { EventEmitter, once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { fakeBytes, startFakeMedia, type FakeMediaServer } from './fake-media.js';
import { FAKE_ELEVENLABS_KEY, elevenLabsError } from './fake-elevenlabs.js';

export interface FakeDub {
  id: string;
  form: Record<string, string>;
  status: 'dubbing' | 'dubbed' | 'failed';
  looks: number;
  hold: boolean;
  fail: boolean;
  released: boolean;
  deleted: boolean;
}

export interface FakeElevenLabsTools {
  server: FakeMediaServer;
  baseUrl: string;
  dubs: Map<string, FakeDub>;
  /** How the next dubs go. */
  next: { hold?: boolean; fail?: boolean; sourceSeconds?: number };
  release(): void;
  until(cond: () => boolean): Promise<void>;
  dubBytes(id: string, lang: string): Uint8Array;
  close(): Promise<void>;
}

export async function startFakeElevenLabsTools(): Promise<FakeElevenLabsTools> {
  const dubs = new Map<string, FakeDub>();
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const dubBytes = (id: string, lang: string) => fakeBytes('ID3-dub', `${id}:${lang}`);
  const fake: FakeElevenLabsTools = {
    server: undefined as unknown as FakeMediaServer,
    baseUrl: '',
    dubs,
    next: {},
    release: () => dubs.forEach((d) => (d.released = true)),
    async until(cond) {
      while (!cond()) await once(events, 'request');
    },
    dubBytes,
    close: () => fake.server.close(),
  };
  fake.server = await startFakeMedia((req) => {
    setImmediate(() => events.emit('request'));
    if (req.headers['xi-api-key'] !== FAKE_ELEVENLABS_KEY) return elevenLabsError(401, 'invalid_api_key', 'Invalid API key');
    if (req.method === 'POST' && req.pathname === '/v1/text-to-dialogue') {
      const inputs = req.json?.inputs;
      if (!Array.isArray(inputs) || inputs.some((i: any) => typeof i?.text !== 'string' || typeof i?.voice_id !== 'string')) {
        return { status: 422, json: { detail: [{ loc: ['body', 'inputs'], msg: 'field required', type: 'value_error.missing' }] } };
      }
      const format = req.query.get('output_format') ?? 'mp3_44100_128';
      return { headers: { 'content-type': 'audio/mpeg' }, body: fakeBytes(`EL-dialogue-${format}`, inputs.map((i: any) => `${i.voice_id}>${i.text}`).join('|')) };
    }
    if (req.method === 'POST' && req.pathname === '/v1/dubbing') {
      const form: Record<string, string> = {};
      req.form?.forEach((value, key) => (form[key] = typeof value === 'string' ? value : `file:${value.type}:${value.size}`));
      if (!form.target_lang) return { status: 422, json: { detail: [{ loc: ['body', 'target_lang'], msg: 'field required', type: 'value_error.missing' }] } };
      if (!form.source_url && !form.file) return elevenLabsError(400, 'invalid_request', 'Either file or source_url must be provided');
      const d: FakeDub = { id: randomBytes(10).toString('hex'), form, status: 'dubbing', looks: 0, hold: fake.next.hold ?? false, fail: fake.next.fail ?? false, released: false, deleted: false };
      dubs.set(d.id, d);
      return { json: { dubbing_id: d.id, expected_duration_sec: 12.5 } };
    }
    const one = /^\/v1\/dubbing\/([0-9a-f]+)(?:\/audio\/([a-z-]+))?$/i.exec(req.pathname);
    const d = one ? dubs.get(one[1]!) : undefined;
    if (!d || d.deleted) return elevenLabsError(404, 'dubbing_not_found', `Dubbing ${one?.[1]} not found`);
    if (req.method === 'DELETE') {
      d.deleted = true;
      return { json: { status: 'ok' } };
    }
    if (one![2]) {
      if (d.status !== 'dubbed') return elevenLabsError(425, 'dubbing_not_ready', 'Dubbing is not finished yet');
      if (!d.form.target_lang!.split(',').includes(one![2])) return elevenLabsError(404, 'language_not_found', `Language ${one![2]} not found`);
      return { headers: { 'content-type': 'audio/mpeg' }, body: dubBytes(d.id, one![2]) };
    }
    d.looks++;
    if (d.status === 'dubbing' && (d.hold ? d.released : d.looks > 1)) d.status = d.fail ? 'failed' : 'dubbed';
    return {
      json: {
        dubbing_id: d.id,
        name: 'dub',
        status: d.status,
        source_language: 'en',
        target_languages: [d.form.target_lang],
        editable: false,
        created_at: '2026-12-01T12:00:00Z',
        media_metadata: { content_type: 'audio/mpeg', duration: fake.next.sourceSeconds ?? 42.5 },
        error: d.status === 'failed' ? 'The source has no speech' : null,
      },
    };
  });
  fake.baseUrl = `${fake.server.origin}/v1`;
  return fake;
}
