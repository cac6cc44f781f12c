// A fake of OpenAI's Videos API (Sora) with its real shapes: POST /v1/videos (multipart, as the
// official SDK sends it) answers the video object {id: "video_…", object: "video", status:
// "queued", progress: 0, seconds: "4", size: "720x1280", …}; GET /v1/videos/{id} moves it on one
// step per look (queued -> in_progress -> completed | failed, as scripted); GET
// /v1/videos/{id}/content is the MP4; DELETE /v1/videos/{id} answers {id, object:
// "video.deleted", deleted: true}. Errors use OpenAI's error envelope.
import { once, EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { fakeBytes, startFakeMedia, type FakeMediaServer } from './fake-media.js';
import { FAKE_OPENAI_KEY, openAIError } from './fake-openai-media.js';
import type { HugeBody } from './huge-body.js';

export interface VideoScript {
  /** Looks answered in_progress before the ending (the first look after create is always in_progress). */
  polls?: number;
  /** Stay in_progress until release(). */
  hold?: boolean;
  ending?: 'completed' | 'failed';
  /** The content's body instead of the small MP4, written by its own code (huge-body.ts: too large to allocate, or held part way). */
  content?: Pick<HugeBody, 'write'>;
}

export interface FakeVideo {
  id: string;
  form: Record<string, string>;
  status: 'queued' | 'in_progress' | 'completed' | 'failed';
  looks: number;
  script: VideoScript;
  released: boolean;
  deleted: boolean;
}

export interface FakeOpenAIVideos {
  server: FakeMediaServer;
  baseUrl: string;
  videos: Map<string, FakeVideo>;
  queue: VideoScript[];
  release(): void;
  /** Resolves once cond() holds, re-checked after every request. */
  until(cond: () => boolean): Promise<void>;
  /** The MP4 bytes of a video (what the gateway must store). */
  bytes(id: string): Uint8Array;
  close(): Promise<void>;
}

export async function startFakeOpenAIVideos(): Promise<FakeOpenAIVideos> {
  const videos = new Map<string, FakeVideo>();
  const events = new EventEmitter();
  events.setMaxListeners(0);
  const view = (v: FakeVideo) => ({
    id: v.id,
    object: 'video',
    created_at: 1758941485,
    status: v.status,
    model: v.form.model ?? 'sora-2',
    progress: v.status === 'completed' ? 100 : v.status === 'in_progress' ? 33 : 0,
    seconds: v.form.seconds ?? '4',
    size: v.form.size ?? '720x1280',
    completed_at: v.status === 'completed' ? 1758941585 : null,
    expires_at: v.status === 'completed' ? 1759027985 : null,
    error: v.status === 'failed' ? { code: 'moderation_blocked', message: 'Your request was blocked by our moderation system.' } : null,
    prompt: v.form.prompt ?? null,
    remixed_from_video_id: null,
  });
  const bytes = (id: string) => fakeBytes('\u0000\u0000\u0000\u0018ftypmp42', id);
  const fake: FakeOpenAIVideos = {
    server: undefined as unknown as FakeMediaServer,
    baseUrl: '',
    videos,
    queue: [],
    release: () => videos.forEach((v) => (v.released = true)),
    async until(cond) {
      while (!cond()) await once(events, 'request');
    },
    bytes,
    close: () => fake.server.close(),
  };
  fake.server = await startFakeMedia((req) => {
    setImmediate(() => events.emit('request'));
    if (req.headers.authorization !== `Bearer ${FAKE_OPENAI_KEY}`) return openAIError(401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
    if (req.method === 'POST' && req.pathname === '/v1/videos') {
      if (!req.form) return openAIError(400, "Invalid 'content-type' header: expected multipart/form-data.");
      const form: Record<string, string> = {};
      req.form.forEach((value, key) => (form[key] = typeof value === 'string' ? value : `file:${value.type}:${value.size}`));
      if (!form.prompt) return openAIError(400, "Missing required parameter: 'prompt'.", 'invalid_request_error', 'missing_required_parameter', 'prompt');
      if (form.seconds && !['4', '8', '12'].includes(form.seconds))
        return openAIError(400, `Invalid value: '${form.seconds}'. Supported values are: '4', '8', and '12'.`, 'invalid_request_error', 'invalid_value', 'seconds');
      const v: FakeVideo = { id: `video_${randomBytes(24).toString('hex')}`, form, status: 'queued', looks: 0, script: fake.queue.shift() ?? {}, released: false, deleted: false };
      videos.set(v.id, v);
      return { json: view(v) };
    }
    const one = /^\/v1\/videos\/(video_[0-9a-f]+)(\/content)?$/.exec(req.pathname);
    const v = one ? videos.get(one[1]!) : undefined;
    if (!v || v.deleted) return openAIError(404, `Video with id '${one?.[1]}' not found.`, 'invalid_request_error', null, 'id');
    if (req.method === 'DELETE') {
      v.deleted = true;
      return { json: { id: v.id, object: 'video.deleted', deleted: true } };
    }
    if (one![2]) {
      if (v.status !== 'completed') return openAIError(400, 'Video is not ready yet, use GET /v1/videos/{video_id} to check status.');
      return { headers: { 'content-type': 'video/mp4' }, ...(v.script.content ? { huge: v.script.content } : { body: bytes(v.id) }) };
    }
    v.looks++;
    const due = v.script.hold ? v.released : v.looks > (v.script.polls ?? 1);
    if (v.status === 'queued' || v.status === 'in_progress') v.status = due && v.looks > 1 ? (v.script.ending ?? 'completed') : 'in_progress';
    return { json: view(v) };
  });
  fake.baseUrl = `${fake.server.origin}/v1`;
  return fake;
}
