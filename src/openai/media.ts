// POST /v1/images/generations and POST /v1/audio/speech (docs/api.md): OpenAI's request bodies ->
// the GenerationInput of an /api/v2 media job (Style C options), and the finished job -> OpenAI's
// answers. Every field is forwarded, mapped, or refused with 400 naming it; whether a field can be
// forwarded depends on the provider the model is routed to, so the checks read the catalog routes.
import { z } from 'zod';
import type { Catalog, ModelEntry } from '../config/catalog.js';
import { GatewayError, badRequest, clip, unsupportedField } from '../core/errors.js';
import type { Generation } from '../db/schema.js';
import { findModel } from '../generation/model-lookup.js';
import { zodToApiError, type GenerationInput } from '../generation/request.js';
import { resultFilesOf, type ResultFile } from '../storage/files.js';
import { safeParseReporting } from '../core/zod-parse.js';

/** How long a /v1 media call waits for its job: the most `wait` allows on /api/v2 (docs/api.md). */
export const V1_MEDIA_WAIT_SECONDS = 120;

export const imagesBodySchema = z.strictObject({
  model: z.string().min(1),
  prompt: z.string(),
  // One image per job (docs/api.md); more is 422 naming `n`.
  n: z.literal(1).nullable().optional(),
  size: z.string().min(1).nullable().optional(),
  quality: z.string().min(1).nullable().optional(),
  style: z.string().min(1).nullable().optional(),
  response_format: z.enum(['url', 'b64_json']).nullable().optional(),
  output_format: z.enum(['png', 'jpeg', 'webp']).nullable().optional(),
  background: z.enum(['auto', 'transparent', 'opaque']).nullable().optional(),
  moderation: z.enum(['auto', 'low']).nullable().optional(),
  output_compression: z.number().int().min(0).max(100).nullable().optional(),
  stream: z.boolean().nullable().optional(),
  partial_images: z.number().int().min(0).max(3).nullable().optional(),
  user: z.string().max(256).optional(),
});

export const speechBodySchema = z.strictObject({
  model: z.string().min(1),
  input: z.string(),
  // Required by OpenAI; optional here (the model's default voice).
  voice: z.union([z.string().min(1).max(128), z.strictObject({ id: z.string().min(1).max(128) })]).optional(),
  response_format: z.enum(['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm']).optional(),
  speed: z.number().min(0.25).max(4).optional(),
  instructions: z.string().max(4096).optional(),
  stream_format: z.enum(['audio', 'sse']).optional(),
});

export interface ImagesRequest {
  input: GenerationInput;
  responseFormat: 'url' | 'b64_json';
}

export interface SpeechRequest {
  input: GenerationInput;
}

/** zod's verdict on an OpenAI body: an unknown field is 400 naming it, the rest as everywhere (400 missing, 422 wrong). */
function parseBody<T extends z.ZodType>(schema: T, body: unknown, required: string): z.infer<T> {
  if (body === undefined || body === null) throw badRequest(`request body is required: a JSON object with ${required}`);
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('request body must be a JSON object');
  const parsed = safeParseReporting(schema, body);
  if (!parsed.success) {
    const unknown = parsed.error.issues.find((i) => i.code === 'unrecognized_keys');
    if (unknown && unknown.code === 'unrecognized_keys') throw unsupportedField(unknown.keys[0]!, 'unknown field');
    throw zodToApiError(parsed.error);
  }
  return parsed.data;
}

/**
 * OpenAI's model names on a media route: a catalog slug (`dall-e-3`, `gpt-image-1.5`, `espeak`),
 * `provider/upstream-model` (as on every /v1 route), or OpenAI's bare upstream name when a catalog
 * model of the right category is routed to it (`tts-1` -> openai-tts, `tts-1-hd` -> openai-tts-hd).
 */
export function resolveMediaModel(catalog: Catalog, name: string, category: 'image' | 'tts', route: string): ModelEntry {
  const byUpstream = catalog.get(name) ? undefined : catalog.models.find((m) => m.category === category && m.routes.some((r) => r.model === name));
  const model = byUpstream ?? findModel(catalog, name);
  if (model.category !== category) {
    throw new GatewayError('bad_request', `model "${clip(model.slug)}" is a ${model.category} model, not a ${category} model: ${route} takes ${category} models`, {
      model: model.slug,
      fields: [{ path: 'model', message: `not a ${category} model` }],
    });
  }
  return model;
}

/** The provider types of a model's routes, with the upstream model of each. */
function routesOf(catalog: Catalog, model: ModelEntry): { type: string; upstream: string }[] {
  return model.routes.map((r) => ({ type: catalog.providers[r.provider]?.type ?? r.provider, upstream: r.model }));
}

/** What the image providers forward of OpenAI's fields (src/providers/*): field -> accepted values (undefined: any). */
function imageFieldsOf(type: string, upstream: string): Record<string, readonly string[] | undefined> {
  switch (type) {
    case 'openai':
      // gpt-image models take output_format and no style; dall-e answers PNG and takes style.
      return upstream.startsWith('gpt-image')
        ? { size: undefined, quality: undefined, output_format: ['png', 'jpeg', 'webp'] }
        : { size: undefined, quality: undefined, style: undefined, output_format: ['png'] };
    case 'replicate':
      return { size: undefined, style: undefined, output_format: ['png', 'jpeg', 'webp'] };
    default:
      // Luma (photon) and Google (Imagen) take aspect ratios, not sizes: use /api/v2/generate with aspect_ratio.
      return {};
  }
}

/** A field the model's provider does not take: 400 naming it, before anything is held. */
function notForwarded(field: string, model: ModelEntry, why = `not supported by model "${model.slug}"`): GatewayError {
  return unsupportedField(field, why);
}

export function parseImagesBody(catalog: Catalog, body: unknown): ImagesRequest {
  const b = parseBody(imagesBodySchema, body, '"model" and "prompt"');
  const model = resolveMediaModel(catalog, b.model, 'image', 'POST /v1/images/generations');
  // OpenAI's defaults ask for nothing: accepted. Other values need what no provider here forwards yet.
  if (b.background != null && b.background !== 'auto') throw notForwarded('background', model, 'only "auto" is supported');
  if (b.moderation != null && b.moderation !== 'auto') throw notForwarded('moderation', model, 'only "auto" is supported');
  if (b.output_compression != null) throw notForwarded('output_compression', model, 'not supported');
  if (b.stream === true) throw notForwarded('stream', model, 'streamed image generation is not supported');
  if (b.partial_images != null && b.partial_images !== 0) throw notForwarded('partial_images', model, 'streamed image generation is not supported');
  const asked: Record<string, string | null | undefined> = { size: b.size, quality: b.quality, style: b.style, output_format: b.output_format };
  for (const route of routesOf(catalog, model)) {
    const fields = imageFieldsOf(route.type, route.upstream);
    for (const [field, value] of Object.entries(asked)) {
      if (value == null) continue;
      if (!(field in fields)) throw notForwarded(field, model);
      const allowed = fields[field];
      if (allowed && !allowed.includes(value)) throw notForwarded(field, model, `model "${model.slug}" makes ${allowed.join(', ')} only`);
    }
  }
  // Style C names (docs/api.md); Replicate's models spell JPEG "jpg".
  const replicate = routesOf(catalog, model).some((r) => r.type === 'replicate');
  // A format every route makes anyway (dall-e's png) is not an option to pass on (submitJob refuses what a route drops).
  const pinned = routesOf(catalog, model).every((r) => imageFieldsOf(r.type, r.upstream).output_format?.length === 1);
  const format = pinned ? undefined : b.output_format === 'jpeg' && replicate ? 'jpg' : b.output_format;
  const options = defined({ size: b.size, quality: b.quality, style: b.style, format, wait: V1_MEDIA_WAIT_SECONDS });
  return { input: jobInput(model, b.prompt, 'prompt', options), responseFormat: b.response_format ?? 'url' };
}

/** OpenAI's built-in voice names: on another provider they mean "the model's default voice". */
const OPENAI_VOICES = new Set(['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'nova', 'onyx', 'sage', 'shimmer', 'verse', 'marin', 'cedar']);

interface SpeechSupport {
  formats: readonly string[];
  /** response_format when none is asked: OpenAI's mp3 where the provider makes it, else what it makes. */
  defaultFormat: string;
  speed?: [number, number];
  instructions: boolean;
  /** Our format name -> the Style C `format` the provider module understands. */
  formatOption?: Record<string, string>;
}

/** What the speech providers make and forward (src/providers/openai-media.ts, elevenlabs.ts, local-tts.ts). */
function speechSupportOf(type: string, upstream: string): SpeechSupport {
  switch (type) {
    case 'openai':
      // gpt-4o-mini-tts takes instructions; tts-1 and tts-1-hd do not.
      return { formats: ['mp3', 'opus', 'aac', 'flac', 'wav', 'pcm'], defaultFormat: 'mp3', speed: [0.25, 4], instructions: !upstream.startsWith('tts-1') };
    case 'elevenlabs':
      // OpenAI's pcm is 24 kHz 16-bit mono: ElevenLabs' pcm_24000 is the same.
      return { formats: ['mp3', 'opus', 'wav', 'pcm'], defaultFormat: 'mp3', speed: [0.7, 1.2], instructions: false, formatOption: { pcm: 'pcm_24000' } };
    case 'local-tts':
      return { formats: ['wav'], defaultFormat: 'wav', speed: [0.25, 4], instructions: false };
    default:
      return { formats: [], defaultFormat: '', instructions: false };
  }
}

export function parseSpeechBody(catalog: Catalog, body: unknown): SpeechRequest {
  const b = parseBody(speechBodySchema, body, '"model", "input" and "voice"');
  const model = resolveMediaModel(catalog, b.model, 'tts', 'POST /v1/audio/speech');
  if (b.stream_format === 'sse') throw notForwarded('stream_format', model, '"sse" is not supported; the answer is the audio bytes ("audio")');
  const routes = routesOf(catalog, model);
  const support = routes.map((r) => ({ ...r, ...speechSupportOf(r.type, r.upstream) }));
  const format = b.response_format ?? support[0]?.defaultFormat ?? 'mp3';
  for (const s of support) {
    if (!s.formats.includes(format)) {
      const makes = s.formats.length ? `makes ${s.formats.join(', ')} only` : 'has no OpenAI response formats';
      throw notForwarded('response_format', model, `"${format}" is not supported: model "${model.slug}" ${makes}`);
    }
    if (b.instructions !== undefined && !s.instructions) throw notForwarded('instructions', model, `model "${model.slug}" takes no instructions`);
    if (b.speed !== undefined && (!s.speed || b.speed < s.speed[0] || b.speed > s.speed[1])) {
      throw notForwarded('speed', model, s.speed ? `model "${model.slug}" takes speed ${s.speed[0]}–${s.speed[1]}` : `model "${model.slug}" takes no speed`);
    }
  }
  const voice = typeof b.voice === 'object' ? b.voice.id : b.voice;
  const openAIOnly = routes.every((r) => r.type === 'openai');
  // An OpenAI voice name on another provider is its default voice (docs/api.md); other names are that provider's voice ids.
  const voiceId = voice !== undefined && (openAIOnly || !OPENAI_VOICES.has(voice)) ? voice : undefined;
  const options = defined({
    voice_id: voiceId,
    // A format every route makes anyway (eSpeak's wav) is not an option to pass on.
    format: support.every((s) => s.formats.length === 1) ? undefined : (support[0]?.formatOption?.[format] ?? format),
    speed: b.speed,
    instructions: b.instructions,
    wait: V1_MEDIA_WAIT_SECONDS,
  });
  return { input: jobInput(model, b.input, 'input', options) };
}

/** The /api/v2 media input: the prompt as the one user message, the options as Style C options. */
function jobInput(model: ModelEntry, prompt: string, path: string, options: Record<string, unknown>): GenerationInput {
  return {
    model: model.slug,
    messages: [{ role: 'user', content: [{ type: 'text', text: prompt }] }],
    messagePaths: [path],
    settings: {},
    stream: false,
    options,
    promptText: prompt,
  };
}

const defined = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && v !== null));

/** The job did not end well: OpenAI's error shape, with the generation to look at. Never retried by the SDK (a retry is a new job). */
export function jobError(g: Generation): GatewayError {
  const headers = { 'x-generation-id': String(g.id), 'x-should-retry': 'false' };
  if (g.status === 'pending') {
    return new GatewayError(
      'generation_pending',
      `generation ${g.id} is still running after ${V1_MEDIA_WAIT_SECONDS} s; poll GET /api/v2/generate/${g.id} for its result (it is charged when it completes)`,
      { generation_id: g.id, status: 'pending' },
      {},
      headers,
    );
  }
  return new GatewayError('provider_error', `generation ${g.id} failed: ${g.error ?? 'unknown error'}`, { generation_id: g.id }, {}, headers);
}

/** The completed job's main file (the first not named thumbnail.*). */
export function mainFile(g: Generation): ResultFile {
  const { files, files_expired_at } = resultFilesOf(g.result_json);
  const file = files?.find((f) => !f.name.startsWith('thumbnail.')) ?? files?.[0];
  if (!file || files_expired_at) throw new GatewayError('internal_error', `generation ${g.id} completed without a file`);
  return file;
}
