// A fake of Luma's Dream Machine API (Bearer auth): POST /dream-machine/v1/generations/{image,video}
// creates a generation in state "queued"; each GET of it moves it one state on (queued ->
// dreaming -> completed, or -> failed for a prompt containing "fail"); DELETE removes it (204).
// Generation objects and errors ({detail}) have Luma's real shape.
import { randomUUID } from 'node:crypto';
import { startFakeMedia, type FakeAnswer, type FakeMediaServer } from './fake-media.js';
import type { HugeBody } from './huge-body.js';

export const FAKE_LUMA_KEY = 'luma-test';

interface FakeGeneration {
  id: string;
  type: 'image' | 'video';
  state: string;
  request: any;
  reads: number;
}

export interface FakeLuma extends FakeMediaServer {
  readonly generations: Map<string, FakeGeneration>;
  /** The next read (GET) of a generation answers this body instead (huge-body.ts), once. */
  pollBody: HugeBody | undefined;
}

export async function startFakeLuma(): Promise<FakeLuma> {
  const generations = new Map<string, FakeGeneration>();
  const object = (g: FakeGeneration) => ({
    id: g.id,
    generation_type: g.type,
    state: g.state,
    failure_reason: g.state === 'failed' ? '400: prompt not allowed because advanced moderation failed' : null,
    created_at: '2025-01-01T00:00:00.000Z',
    assets: g.state === 'completed' ? { [g.type]: `https://storage.cdn-luma.com/dream_machine/${g.id}/out.${g.type === 'image' ? 'jpg' : 'mp4'}`, progress_video: null } : null,
    model: g.request.model,
    request: { generation_type: g.type, ...g.request },
  });
  const server = await startFakeMedia((req): FakeAnswer | undefined => {
    if (req.headers.authorization !== `Bearer ${FAKE_LUMA_KEY}`) return { status: 401, json: { detail: 'Invalid API key' } };
    const create = /^\/dream-machine\/v1\/generations\/(image|video)$/.exec(req.pathname);
    if (create && req.method === 'POST') {
      if (!req.json?.prompt) return { status: 400, json: { detail: 'Prompt is required' } };
      const g: FakeGeneration = { id: randomUUID(), type: create[1] as 'image' | 'video', state: 'queued', request: req.json, reads: 0 };
      generations.set(g.id, g);
      return { status: 201, json: object(g) };
    }
    const one = /^\/dream-machine\/v1\/generations\/([0-9a-f-]+)$/.exec(req.pathname);
    const g = one ? generations.get(one[1]!) : undefined;
    if (!one) return undefined;
    if (!g) return { status: 404, json: { detail: 'Generation not found' } };
    if (req.method === 'DELETE') {
      generations.delete(g.id);
      return { status: 204 };
    }
    if (req.method === 'GET') {
      g.reads++;
      const huge = fake.pollBody;
      fake.pollBody = undefined;
      if (huge) return { headers: { 'content-type': 'application/json' }, huge };
      if (g.state === 'queued') g.state = 'dreaming';
      else if (g.state === 'dreaming') g.state = String(g.request.prompt).includes('fail') ? 'failed' : 'completed';
      return { json: object(g) };
    }
    return undefined;
  });
  const fake: FakeLuma = Object.assign(server, { generations, pollBody: undefined as HugeBody | undefined });
  return fake;
}
