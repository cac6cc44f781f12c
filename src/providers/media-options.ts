// Which Style C options (docs/api.md) each media provider module forwards or maps, by provider
// type. The sets themselves live in the provider modules, next to the code that reads them (one
// `…MediaOptions(kind, upstreamModel)` per module), so a declaration and its mapper cannot drift;
// src/providers/media-options.test.ts checks that every declared option changes the wire request.
// The gateway refuses, before anything is held, an option a route of the model would drop
// (src/jobs/submit.ts): "Options a model does not take are refused".
import { elevenLabsMediaOptions, elevenLabsOneOf } from './elevenlabs.js';
import { googleMediaOptions } from './google-media.js';
import { localTtsMediaOptions } from './local-tts.js';
import { lumaMediaOptions } from './luma.js';
import { openAIMediaOptions, openAIOneOf } from './openai-media.js';
import { replicateMediaOptions, replicateOneOf } from './replicate-inputs.js';
import type { MediaKind } from './spec.js';

/** The options a provider module forwards for one media kind and upstream model. */
export type MediaOptionsOf = (kind: MediaKind, upstreamModel: string) => ReadonlySet<string>;

/**
 * `prompt` is listed like an option: a module that never reads the prompt (an upscaler, a voice
 * isolator, ElevenLabs' transcription) would drop it, so it is refused there too.
 */
const BY_TYPE: Readonly<Record<string, MediaOptionsOf>> = {
  openai: openAIMediaOptions,
  elevenlabs: elevenLabsMediaOptions,
  google: googleMediaOptions,
  luma: lumaMediaOptions,
  replicate: replicateMediaOptions,
  'local-tts': localTtsMediaOptions,
};

const NONE: ReadonlySet<string> = new Set();

/** What a route of provider type `type` forwards of a `kind` request to `upstreamModel`; nothing for a type without media. */
export function mediaOptions(type: string, kind: MediaKind, upstreamModel: string): ReadonlySet<string> {
  return BY_TYPE[type]?.(kind, upstreamModel) ?? NONE;
}

/** The provider types that have media declarations (for tests and docs). */
export const MEDIA_PROVIDER_TYPES: readonly string[] = Object.keys(BY_TYPE);

/**
 * Options of which a module reads only the first when both are given (`[read, dropped]`): MiniMax
 * speech reads `text` before the prompt, el-dialogue's `inputs` replace its prompt and `voices`, a
 * dub's `video_url` its `audio_url`, an https `image_url` the input file an `audio_url` data: URL
 * carries (Replicate, Sora). Both in one request is refused naming the one that would be
 * dropped (src/jobs/options.ts).
 */
export type OneOf = readonly (readonly [string, string])[];

const ONE_OF_BY_TYPE: Readonly<Record<string, (kind: MediaKind, upstreamModel: string) => OneOf>> = {
  elevenlabs: elevenLabsOneOf,
  openai: openAIOneOf,
  replicate: replicateOneOf,
};

export function mediaOneOf(type: string, kind: MediaKind, upstreamModel: string): OneOf {
  return ONE_OF_BY_TYPE[type]?.(kind, upstreamModel) ?? [];
}
