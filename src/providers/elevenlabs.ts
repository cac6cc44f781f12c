// ElevenLabs: speech (text-to-speech), Scribe transcription, sound effects, music, voice changer,
// voice isolator and dialogue, all synchronous (the answer is the audio or the transcript: start()
// answers done); and dubbing, an asynchronous job (elevenlabs-dubbing.ts). On undici directly
// (media-http.ts): @ai-sdk/elevenlabs covers speech and transcription only.
import { FormData } from 'undici';
import type { ProviderConfig } from './config.js';
import { MediaHttp, bool, defined, filePart, num, requireInput, str, type ClosableMediaProvider, type HttpAnswer } from './media-http.js';
import { outputLimit } from './body-limit.js';
import { DUBBING_OPTIONS, cancelDubbing, pollDubbing, startDubbing } from './elevenlabs-dubbing.js';
import { ProviderError, type MediaKind, type MediaProgress, type MediaRequest, type MediaResult } from './spec.js';

/** "Rachel", ElevenLabs' long-standing default premade voice. */
export const DEFAULT_VOICE_ID = '21m00Tcm4TlvDq8ikWAM';

/** Our short format names -> ElevenLabs' output_format (codec_samplerate[_bitrate]); theirs pass through. */
const outputFormats: Record<string, string> = { mp3: 'mp3_44100_128', wav: 'wav_44100', pcm: 'pcm_44100', opus: 'opus_48000_128', ulaw: 'ulaw_8000' };
const codecMediaTypes: Record<string, string> = { mp3: 'audio/mpeg', wav: 'audio/wav', pcm: 'audio/pcm', opus: 'audio/ogg', ulaw: 'audio/basic', alaw: 'audio/x-alaw-basic' };

interface ScribeResponse {
  text?: string;
  language_code?: string;
  words?: { text: string; start?: number; end?: number; type?: string; speaker_id?: string }[];
}

// The Style C options each endpoint below forwards (src/providers/media-options.ts).
const SPEECH_OPTIONS: ReadonlySet<string> = new Set(['prompt', 'format', 'language', 'stability', 'similarity_boost', 'style_exaggeration', 'speed', 'seed', 'voice_id']);
const SCRIBE_OPTIONS: ReadonlySet<string> = new Set(['language', 'diarize']);
const MUSIC_OPTIONS: ReadonlySet<string> = new Set(['prompt', 'format', 'duration']);
const SOUND_EFFECT_OPTIONS: ReadonlySet<string> = new Set(['prompt', 'format', 'duration', 'prompt_influence']);
const VOICE_CHANGER_OPTIONS: ReadonlySet<string> = new Set(['format', 'voice_id']);
const DIALOGUE_OPTIONS: ReadonlySet<string> = new Set(['prompt', 'format', 'seed', 'inputs', 'voices']);
const NONE: ReadonlySet<string> = new Set();

/** Options of which the module reads the first when both are given (src/providers/media-options.ts, OneOf). */
export function elevenLabsOneOf(kind: MediaKind, model: string): readonly (readonly [string, string])[] {
  if (kind !== 'tool') return [];
  // dialogueInputs: `inputs` as given, else the prompt's lines with `voices`; startDubbing: video_url ?? audio_url.
  if (model.startsWith('eleven_v3'))
    return [
      ['inputs', 'prompt'],
      ['inputs', 'voices'],
    ];
  if (model === 'dubbing') return [['video_url', 'audio_url']];
  return [];
}

export function elevenLabsMediaOptions(kind: MediaKind, model: string): ReadonlySet<string> {
  switch (kind) {
    case 'tts':
      return SPEECH_OPTIONS;
    case 'stt':
      return SCRIBE_OPTIONS;
    case 'audio':
      return MUSIC_OPTIONS;
    case 'tool':
      // The same dispatch as run() and isDubbing().
      if (model === 'dubbing') return DUBBING_OPTIONS;
      if (model.startsWith('eleven_text_to_sound')) return SOUND_EFFECT_OPTIONS;
      if (model.includes('_sts_')) return VOICE_CHANGER_OPTIONS;
      if (model === 'audio-isolation') return NONE; // the audio in, MP3 out: nothing to set
      if (model.startsWith('eleven_v3')) return DIALOGUE_OPTIONS;
      return NONE;
    default:
      return NONE;
  }
}

export function elevenLabsMedia(cfg: ProviderConfig): ClosableMediaProvider {
  const http = new MediaHttp(cfg.base_url, { ...cfg.headers, ...(cfg.api_key ? { 'xi-api-key': cfg.api_key } : {}) });
  return {
    async start(req: MediaRequest): Promise<MediaProgress> {
      if (isDubbing(req)) return startDubbing(http, req);
      const result = await run(http, req);
      return { state: 'done', result };
    },
    // Only dubbing runs as a provider job at ElevenLabs.
    poll: (req, id) => pollDubbing(http, req, id),
    cancel: (req, id) => cancelDubbing(http, req, id),
    close: () => http.close(),
  };
}

function run(http: MediaHttp, req: MediaRequest): Promise<MediaResult> {
  const model = req.upstreamModel;
  switch (req.kind) {
    case 'tts':
      return speech(http, req);
    case 'stt':
      return scribe(http, req);
    case 'audio':
      return music(http, req);
    case 'tool':
      // Tools are told apart by the upstream model the catalog routes them to.
      if (model.startsWith('eleven_text_to_sound')) return soundEffect(http, req);
      if (model.includes('_sts_')) return voiceChanger(http, req);
      if (model === 'audio-isolation') return voiceIsolator(http, req);
      // Text to Dialogue takes the v3 models.
      if (model.startsWith('eleven_v3')) return dialogue(http, req);
  }
  return Promise.reject(new ProviderError(`ElevenLabs does not serve ${req.kind} model "${model}"`, { status: 400, retryable: false }));
}

const isDubbing = (req: MediaRequest) => req.kind === 'tool' && req.upstreamModel === 'dubbing';

/** The output_format query value and the media type of the bytes it gives. */
function outputFormat(options: Record<string, unknown>): { query: string; mediaType: string; format: string } {
  const asked = str(options, 'format') ?? 'mp3';
  const query = outputFormats[asked] ?? asked;
  const codec = query.split('_')[0]!;
  return { query: `?output_format=${encodeURIComponent(query)}`, mediaType: codecMediaTypes[codec] ?? 'audio/mpeg', format: codec };
}

function audio(res: HttpAnswer, out: { mediaType: string; format: string }, measured?: MediaResult['measured']): MediaResult {
  return { files: [{ data: res.bytes, mediaType: out.mediaType, metadata: { format: out.format } }], ...(measured ? { measured } : {}) };
}

async function speech(http: MediaHttp, req: MediaRequest): Promise<MediaResult> {
  const o = req.options;
  const text = req.prompt ?? '';
  const out = outputFormat(o);
  const settings = defined({ stability: num(o, 'stability'), similarity_boost: num(o, 'similarity_boost'), style: num(o, 'style_exaggeration'), speed: num(o, 'speed') });
  const body = defined({
    text,
    model_id: req.upstreamModel,
    language_code: str(o, 'language'),
    voice_settings: Object.keys(settings).length ? settings : undefined,
    seed: num(o, 'seed'),
  });
  const voice = encodeURIComponent(str(o, 'voice_id') ?? DEFAULT_VOICE_ID);
  const res = await http.call(`/text-to-speech/${voice}${out.query}`, { json: body, headers: { accept: 'audio/*' }, signal: req.signal, limit: outputLimit(req) });
  return audio(res, out, { characters: [...text].length });
}

async function scribe(http: MediaHttp, req: MediaRequest): Promise<MediaResult> {
  const input = requireInput(req.input, 'transcription');
  const form = new FormData();
  form.append('model_id', req.upstreamModel);
  filePart(form, 'file', input, 'audio');
  const language = str(req.options, 'language');
  if (language) form.append('language_code', language);
  const diarize = bool(req.options, 'diarize');
  if (diarize !== undefined) form.append('diarize', String(diarize));
  const res = await http.json<ScribeResponse>('/speech-to-text', { form, signal: req.signal });
  if (typeof res.text !== 'string') throw new ProviderError('ElevenLabs answered speech-to-text without text');
  const seconds = Math.max(0, ...(res.words ?? []).map((w) => w.end ?? 0));
  return { files: [], text: res.text, ...(seconds > 0 ? { measured: { seconds } } : {}) };
}

async function soundEffect(http: MediaHttp, req: MediaRequest): Promise<MediaResult> {
  const o = req.options;
  const out = outputFormat(o);
  const body = defined({ text: req.prompt ?? '', model_id: req.upstreamModel, duration_seconds: num(o, 'duration'), prompt_influence: num(o, 'prompt_influence') });
  return audio(await http.call(`/sound-generation${out.query}`, { json: body, headers: { accept: 'audio/*' }, signal: req.signal, limit: outputLimit(req) }), out);
}

async function music(http: MediaHttp, req: MediaRequest): Promise<MediaResult> {
  const o = req.options;
  const out = outputFormat(o);
  const seconds = num(o, 'duration');
  const body = defined({ prompt: req.prompt ?? '', music_length_ms: seconds !== undefined ? Math.round(seconds * 1000) : undefined, model_id: req.upstreamModel });
  return audio(
    await http.call(`/music${out.query}`, { json: body, headers: { accept: 'audio/*' }, signal: req.signal, limit: outputLimit(req) }),
    out,
    seconds !== undefined ? { seconds } : undefined,
  );
}

async function voiceChanger(http: MediaHttp, req: MediaRequest): Promise<MediaResult> {
  const out = outputFormat(req.options);
  const form = new FormData();
  filePart(form, 'audio', requireInput(req.input, 'el-voice-changer (the audio to change)'), 'audio');
  form.append('model_id', req.upstreamModel);
  const voice = encodeURIComponent(str(req.options, 'voice_id') ?? DEFAULT_VOICE_ID);
  return audio(await http.call(`/speech-to-speech/${voice}${out.query}`, { form, headers: { accept: 'audio/*' }, signal: req.signal, limit: outputLimit(req) }), out);
}

async function voiceIsolator(http: MediaHttp, req: MediaRequest): Promise<MediaResult> {
  const form = new FormData();
  filePart(form, 'audio', requireInput(req.input, 'el-voice-isolator (the audio to clean)'), 'audio');
  // The isolator takes no output_format: it answers MP3.
  return audio(await http.call('/audio-isolation', { form, headers: { accept: 'audio/*' }, signal: req.signal, limit: outputLimit(req) }), { mediaType: 'audio/mpeg', format: 'mp3' });
}

/**
 * Text to Dialogue: `inputs` ([{text, voice_id}], ElevenLabs' own shape) or a prompt of
 * "Speaker: line" lines, each speaker a voice id or a name mapped by the `voices` option
 * ({"Anna": "<voice id>"}); a line without "Speaker:" continues the previous speaker (docs/api.md).
 */
async function dialogue(http: MediaHttp, req: MediaRequest): Promise<MediaResult> {
  const inputs = dialogueInputs(req);
  const out = outputFormat(req.options);
  const body = defined({ inputs, model_id: req.upstreamModel, seed: num(req.options, 'seed') });
  const res = await http.call(`/text-to-dialogue${out.query}`, { json: body, headers: { accept: 'audio/*' }, signal: req.signal, limit: outputLimit(req) });
  return audio(res, out, { characters: inputs.reduce((n, i) => n + [...i.text].length, 0) });
}

export function dialogueInputs(req: MediaRequest): { text: string; voice_id: string }[] {
  const given = req.options.inputs;
  const refuse = (message: string) => new ProviderError(`el-dialogue: ${message}`, { status: 400, retryable: false });
  if (given !== undefined) {
    if (!Array.isArray(given) || given.length === 0) throw refuse('inputs must be a non-empty list of {text, voice_id}');
    return given.map((i: unknown, n) => {
      const { text, voice_id } = (i ?? {}) as { text?: unknown; voice_id?: unknown };
      if (typeof text !== 'string' || text.trim() === '' || typeof voice_id !== 'string' || voice_id === '') throw refuse(`inputs.${n} needs text and voice_id`);
      return { text, voice_id };
    });
  }
  const voices = (typeof req.options.voices === 'object' && req.options.voices !== null ? req.options.voices : {}) as Record<string, unknown>;
  const lines: { text: string; voice_id: string }[] = [];
  for (const line of (req.prompt ?? '').split(/\r?\n/)) {
    const said = /^\s*([^:]{1,64}):\s*(.+)$/.exec(line);
    if (said) {
      const speaker = said[1]!.trim();
      const mapped = voices[speaker];
      lines.push({ text: said[2]!.trim(), voice_id: typeof mapped === 'string' ? mapped : speaker });
    } else if (line.trim() && lines.length > 0) lines.at(-1)!.text += ` ${line.trim()}`;
    else if (line.trim()) throw refuse('each prompt line is "Speaker: text" (the first line names its speaker)');
  }
  if (lines.length === 0) throw refuse('give inputs [{text, voice_id}] or a prompt of "Speaker: text" lines');
  return lines;
}
