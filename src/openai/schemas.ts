// OpenAPI documentation of the /v1 routes (documentation only: zod validates in the handler).
import { bearer, docsOnly, errorResponses, fromZod } from '../docs/schemas.js';
import { chatCompletionBodySchema } from './request.js';
import { embeddingsBodySchema } from './embeddings.js';
import { chatExamples, embeddingsExamples, imagesExamples, responsesExamples, speechExamples } from '../docs/examples.js';
import { responsesBodySchema } from './responses-api.js';
import { imagesBodySchema, speechBodySchema } from './media.js';

const model = { type: 'object', properties: { id: { type: 'string' }, object: { const: 'model' }, created: { type: 'integer' }, owned_by: { type: 'string' } } };
const usage = { type: 'object', properties: { prompt_tokens: { type: 'integer' }, completion_tokens: { type: 'integer' }, total_tokens: { type: 'integer' } } };
const lumengate = {
  type: 'object',
  description: 'lumengate extension: the generation row and what it cost (flat price per request).',
  properties: { generation_id: { type: 'integer' }, tokens_spent: { type: 'integer' }, balance_remaining: { type: ['integer', 'null'] } },
};
const completion = {
  type: 'object',
  properties: {
    id: { type: 'string', description: '"gen-<generation id>"' },
    object: { const: 'chat.completion' },
    created: { type: 'integer' },
    model: { type: 'string' },
    choices: {
      type: 'array',
      items: {
        type: 'object',
        properties: { index: { type: 'integer' }, message: { type: 'object', properties: { role: { const: 'assistant' }, content: { type: 'string' } } }, finish_reason: { type: 'string' } },
      },
    },
    usage,
    lumengate,
  },
};
const embeddingList = {
  type: 'object',
  properties: {
    object: { const: 'list' },
    model: { type: 'string' },
    lumengate,
    data: {
      type: 'array',
      items: { type: 'object', properties: { object: { const: 'embedding' }, index: { type: 'integer' }, embedding: { oneOf: [{ type: 'array', items: { type: 'number' } }, { type: 'string' }] } } },
    },
    usage: { type: 'object', properties: { prompt_tokens: { type: 'integer' }, total_tokens: { type: 'integer' } } },
  },
};
const imagesResponse = {
  type: 'object',
  properties: {
    created: { type: 'integer' },
    data: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          url: { type: 'string', description: "signed result URL on the gateway (`response_format: 'url'`)" },
          b64_json: { type: 'string', description: "the image, base64 (`response_format: 'b64_json'`)" },
        },
      },
    },
    output_format: { type: 'string' },
    size: { type: 'string' },
    lumengate,
  },
};
const errors = (s: number[]) => errorResponses(s, 'OpenAIError');

export const openAIDocs = {
  chatCompletions: docsOnly({
    summary: 'OpenAI-compatible chat completion',
    tags: ['openai'],
    security: bearer,
    description: 'Same keys, balance, prices and generation rows as /api/v2/generate. `stream: true` answers `chat.completion.chunk` SSE events.',
    body: { ...fromZod(chatCompletionBodySchema), examples: chatExamples },
    response: {
      200: {
        description: 'A chat.completion, or chat.completion.chunk SSE events when `stream: true`',
        content: { 'application/json': { schema: completion }, 'text/event-stream': { schema: { type: 'string' } } },
      },
      ...errors([400, 401, 402, 403, 404, 413, 422, 429, 500, 503]),
    },
  }),
  responses: docsOnly({
    summary: 'OpenAI Responses API',
    tags: ['openai'],
    security: bearer,
    description:
      'The same lifecycle as /v1/chat/completions (keys, prices, generation rows). `input` is a string or message / function_call / function_call_output items; `previous_response_id` continues one of your own responses. `stream: true` answers named SSE events (`response.created` … `response.completed` or `response.failed`), without `[DONE]`.',
    body: { ...fromZod(responsesBodySchema), examples: responsesExamples },
    response: {
      200: {
        description: 'A response object, or its SSE events when `stream: true`',
        content: {
          'application/json': {
            schema: {
              type: 'object',
              properties: {
                id: { type: 'string', description: '"resp_<generation id>"' },
                object: { const: 'response' },
                status: { type: 'string' },
                output: { type: 'array' },
                usage: { type: 'object' },
                lumengate,
              },
            },
          },
          'text/event-stream': { schema: { type: 'string' } },
        },
      },
      ...errors([400, 401, 402, 403, 404, 413, 422, 429, 500, 503]),
    },
  }),
  embeddings: docsOnly({
    summary: 'OpenAI-compatible embeddings',
    tags: ['openai'],
    security: bearer,
    description: 'Embedding models (category `embedding`), flat price per request, a generation row like any generation. `encoding_format: "base64"` answers float32 little-endian vectors.',
    body: { ...fromZod(embeddingsBodySchema), examples: embeddingsExamples },
    response: {
      200: { description: 'A list of embeddings', content: { 'application/json': { schema: embeddingList } } },
      ...errors([400, 401, 402, 403, 404, 422, 429, 500, 503]),
    },
  }),
  images: docsOnly({
    summary: 'OpenAI-compatible image generation',
    tags: ['openai'],
    security: bearer,
    description:
      'An image model (category `image`) as a media job on the same holds, prices and generation rows as /api/v2/generate; the call waits for the job (up to 120 s, then 504 naming the generation to poll). One image per call (`n`: 1). Fields a model cannot take are 400 naming them (docs/api.md).',
    body: { ...fromZod(imagesBodySchema), examples: imagesExamples },
    response: {
      200: { description: 'The image, as a signed URL or base64', content: { 'application/json': { schema: imagesResponse } } },
      ...errors([400, 401, 402, 403, 404, 422, 429, 500, 503, 504]),
    },
  }),
  speech: docsOnly({
    summary: 'OpenAI-compatible text to speech',
    tags: ['openai'],
    security: bearer,
    description:
      'A speech model (category `tts`: tts-1, tts-1-hd, gpt-4o-mini-tts, ElevenLabs, the local `espeak`) as a media job, waited for; the answer is the audio bytes with their Content-Type. `response_format` must be one the model makes (docs/api.md).',
    body: { ...fromZod(speechBodySchema), examples: speechExamples },
    response: {
      200: {
        description: 'The audio',
        content: Object.fromEntries(['audio/mpeg', 'audio/ogg', 'audio/aac', 'audio/flac', 'audio/wav', 'audio/pcm'].map((t) => [t, { schema: { type: 'string', format: 'binary' } }])),
      },
      ...errors([400, 401, 402, 403, 404, 422, 429, 500, 503, 504]),
    },
  }),
  transcriptions: docsOnly({
    summary: 'OpenAI-compatible speech to text (multipart upload)',
    tags: ['openai'],
    security: bearer,
    consumes: ['multipart/form-data'],
    description:
      "OpenAI's request and answer around the same stt job as POST /api/v2/stt (prices, holds, generation rows). `model`: a catalog stt slug or the upstream name it is routed to (`whisper-1` → whisper). `response_format` json or text; verbose_json, srt, vtt are refused naming the value. Other fields are 400 naming them.",
    body: {
      type: 'object',
      required: ['file', 'model'],
      additionalProperties: false,
      properties: {
        file: { type: 'string', format: 'binary', description: 'mp3, mp4, wav, m4a, ogg, flac or webm; at most 25 MiB' },
        model: { type: 'string', description: 'whisper-1, gpt-4o-transcribe, scribe_v1, or a catalog stt slug' },
        language: { type: 'string' },
        prompt: { type: 'string' },
        response_format: { type: 'string', enum: ['json', 'text'], default: 'json' },
        temperature: { type: 'number', minimum: 0, maximum: 1 },
      },
      examples: [{ file: 'speech.mp3', model: 'scribe_v1', language: 'en' }],
    },
    response: {
      200: {
        description: 'The transcription',
        content: { 'application/json': { schema: { type: 'object', required: ['text'], properties: { text: { type: 'string' } } } }, 'text/plain': { schema: { type: 'string' } } },
      },
      ...errors([400, 401, 402, 403, 404, 413, 422, 429, 500, 503, 504]),
    },
  }),
  listModels: docsOnly({
    summary: 'Chat models',
    tags: ['openai'],
    security: bearer,
    response: {
      200: { description: 'Model list', content: { 'application/json': { schema: { type: 'object', properties: { object: { const: 'list' }, data: { type: 'array', items: model } } } } } },
      ...errors([401]),
    },
  }),
  getModel: docsOnly({
    summary: 'One chat model',
    tags: ['openai'],
    security: bearer,
    params: { type: 'object', properties: { model: { type: 'string' } }, required: ['model'] },
    response: { 200: { description: 'The model', content: { 'application/json': { schema: model } } }, ...errors([401, 404]) },
  }),
};
