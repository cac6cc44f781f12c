// Style C options -> the `input` of a Replicate prediction. Image, video and music models share
// input names (prompt, width/height, seed, …); tool models and MiniMax speech each have their own,
// listed here by "owner/name" (the catalog routes them, docs/api.md names the models). Input images
// are URLs: an https URL or a data: URL is passed through as is (Replicate takes both); the job's
// stored input file (an `image_url` data: URL given to the gateway) goes back as a data URL.
import { bool, defined, num, str } from './media-http.js';
import type { MediaKind, MediaRequest } from './spec.js';

type InputMapper = (req: MediaRequest) => Record<string, unknown>;

/** A model's mapper and the Style C options it reads (src/providers/media-options.ts): keep the two together. */
interface Mapper {
  options: readonly string[];
  map: InputMapper;
  /** The model answers text (a string, or a list of strings), never files: see replicateOutputsText. */
  textOutput?: true;
}

const o = (req: MediaRequest) => req.options;

/** Tool and speech models whose inputs are not the shared image/video names. */
const MAPPERS: Record<string, Mapper> = {
  // Real-ESRGAN: image, scale (0-10, default 4), face_enhance.
  'nightmareai/real-esrgan': {
    options: ['image_url', 'scale', 'face_enhance'],
    map: (req) => defined({ image: str(o(req), 'image_url'), scale: num(o(req), 'scale'), face_enhance: bool(o(req), 'face_enhance') }),
  },
  // Face swap: the face of swap_image onto input_image.
  'cdingram/face-swap': {
    options: ['image_url', 'swap_image_url'],
    map: (req) => defined({ input_image: str(o(req), 'image_url'), swap_image: str(o(req), 'swap_image_url') }),
  },
  // Background remover: image, output format png|jpg (the model's own names).
  '851-labs/background-remover': {
    options: ['image_url', 'format', 'background_type'],
    map: (req) => defined({ image: str(o(req), 'image_url'), format: str(o(req), 'format'), background_type: str(o(req), 'background_type') }),
  },
  // Style transfer: the style of style_image on the structure of structure_image, steered by the prompt.
  'fofr/style-transfer': {
    options: ['image_url', 'style_image_url', 'prompt', 'negative_prompt', 'seed', 'format'],
    map: (req) =>
      defined({
        structure_image: str(o(req), 'image_url'),
        style_image: str(o(req), 'style_image_url'),
        prompt: req.prompt,
        negative_prompt: str(o(req), 'negative_prompt'),
        seed: num(o(req), 'seed'),
        output_format: str(o(req), 'format'),
      }),
  },
  // DDColor: image, model_size large|tiny.
  'piddnad/ddcolor': { options: ['image_url', 'model_size'], map: (req) => defined({ image: str(o(req), 'image_url'), model_size: str(o(req), 'model_size') }) },
  // FLUX Fill Pro: image + mask (white = repaint) + prompt.
  'black-forest-labs/flux-fill-pro': {
    options: ['image_url', 'mask_url', 'prompt', 'seed', 'format'],
    map: (req) => defined({ image: str(o(req), 'image_url'), mask: str(o(req), 'mask_url'), prompt: req.prompt, seed: num(o(req), 'seed'), output_format: str(o(req), 'format') }),
  },
  // OCR: image in, the text out (a string, not a file).
  'abiruyt/text-extract-ocr': { options: ['image_url'], map: (req) => defined({ image: str(o(req), 'image_url') }), textOutput: true },
  // MiniMax Speech-02 HD: text, voice_id, speed, emotion, language_boost; an audio URL out.
  'minimax/speech-02-hd': {
    options: ['text', 'prompt', 'voice_id', 'speed', 'emotion', 'language_boost', 'format'],
    map: (req) =>
      defined({
        text: str(o(req), 'text') ?? req.prompt ?? '',
        voice_id: str(o(req), 'voice_id'),
        speed: num(o(req), 'speed'),
        emotion: str(o(req), 'emotion'),
        language_boost: str(o(req), 'language_boost'),
        audio_format: str(o(req), 'format'),
      }),
  },
};

/** Style C names -> the input names Replicate's image, video and music models share (sharedInput). */
const SHARED_RENAMES = (kind: MediaKind): Record<string, string> => ({
  aspect_ratio: 'aspect_ratio',
  seed: 'seed',
  negative_prompt: 'negative_prompt',
  duration: 'duration',
  format: 'output_format',
  style: 'style',
  image_url: kind === 'video' ? 'start_image' : 'input_image',
});

const SHARED_OPTIONS: ReadonlySet<string> = new Set(['prompt', 'size', ...Object.keys(SHARED_RENAMES('image'))]);
const mapperOptions = new Map(Object.entries(MAPPERS).map(([name, m]) => [name, new Set(m.options) as ReadonlySet<string>]));

/** Options of which the mapper reads the first when both are given (src/providers/media-options.ts, OneOf). */
export function replicateOneOf(_kind: MediaKind, upstreamModel: string): readonly (readonly [string, string])[] {
  // MiniMax speech speaks `text ?? prompt`; an input file (from an audio_url data: URL) goes as the image only when image_url does not.
  return upstreamModel.split(':')[0] === 'minimax/speech-02-hd' ? [['text', 'prompt']] : [['image_url', 'audio_url']];
}

/** The Style C options the prediction input of `upstreamModel` ("owner/name[:version]") carries. */
export function replicateMediaOptions(_kind: MediaKind, upstreamModel: string): ReadonlySet<string> {
  return mapperOptions.get(upstreamModel.split(':')[0]!) ?? SHARED_OPTIONS;
}

/**
 * Whether the output of `upstreamModel` is text. Known from the model, never guessed from the value:
 * an OCR model reads whatever is written on the caller's image, and text that reads as a URL must
 * stay text, not become a file the gateway fetches.
 */
export function replicateOutputsText(upstreamModel: string): boolean {
  return MAPPERS[upstreamModel.split(':')[0]!]?.textOutput === true;
}

/** The prediction input for `req` ("owner/name[:version]"). */
export function replicateInput(req: MediaRequest): Record<string, unknown> {
  const name = req.upstreamModel.split(':')[0]!;
  const withInput =
    req.input && req.options.image_url === undefined ? { ...req, options: { ...req.options, image_url: `data:${req.input.mediaType};base64,${Buffer.from(req.input.data).toString('base64')}` } } : req;
  return (MAPPERS[name]?.map ?? sharedInput)(withInput);
}

/** Style C options -> the input names Replicate's image, video and music models share. */
function sharedInput(req: MediaRequest): Record<string, unknown> {
  const opts = req.options;
  const input: Record<string, unknown> = {};
  if (req.prompt !== undefined) input.prompt = req.prompt;
  const size = typeof opts.size === 'string' ? /^(\d+)x(\d+)$/.exec(opts.size) : null;
  if (size) {
    input.width = Number(size[1]);
    input.height = Number(size[2]);
  } else if (typeof opts.size === 'string') input.resolution = opts.size;
  const rename = SHARED_RENAMES(req.kind);
  for (const [from, to] of Object.entries(rename)) if (opts[from] !== undefined) input[to] = opts[from];
  return input;
}
