// POST /v1/audio/transcriptions (docs/api.md, "Transcriptions"): OpenAI's multipart request and
// answer around the same stt job as POST /api/v2/stt (same prices, holds and generation rows).
// OpenAI's model names map to catalog stt models by their upstream route (whisper-1 -> whisper);
// the request waits up to 120 s for the job, as OpenAI's API is synchronous.
import type { FastifyInstance } from 'fastify';
import type { Catalog, ModelEntry } from '../config/catalog.js';
import { badRequest, unsupportedField, validationError } from '../core/errors.js';
import { callerOf } from '../http/app.js';
import { submitJobRequest } from '../http/jobs.js';
import { readUpload, registerMultipart, uploadInput } from '../http/uploads.js';
import { openAIDocs } from './schemas.js';
import { V1_MEDIA_WAIT_SECONDS, jobError } from './media.js';
import { audioFormatOf, numberField, sttModel, transcriptionInput } from '../jobs/transcription.js';

const FIELDS: ReadonlySet<string> = new Set(['model', 'language', 'prompt', 'response_format', 'temperature']);
/** OpenAI's formats this gateway does not produce (the job keeps the text only): refused by name. */
const REFUSED_FORMATS = new Set(['verbose_json', 'srt', 'vtt', 'diarized_json']);

/**
 * The stt model an OpenAI client names: a catalog slug (`whisper`, `gpt-4o-transcribe`), else the
 * stt model routed to that upstream model (`whisper-1` -> `whisper`, `scribe_v1` ->
 * `elevenlabs-scribe`), else `provider/upstream` or a 404 as every model lookup.
 */
export function transcriptionModel(catalog: Catalog, name: string): ModelEntry {
  if (!catalog.get(name)) {
    const routed = catalog.models.find((m) => m.category === 'stt' && m.routes.some((r) => r.model === name));
    if (routed) return routed;
  }
  return sttModel(catalog, name);
}

export async function transcriptionRoutes(app: FastifyInstance): Promise<void> {
  const deps = app.services;
  await registerMultipart(app);

  app.post('/audio/transcriptions', { schema: openAIDocs.transcriptions }, async (req, reply) => {
    const caller = callerOf(req);
    const upload = await readUpload(req, { fileField: 'file', fields: FIELDS, dir: deps.settings.uploadDir });
    try {
      const f = upload.fields;
      if (!upload.file) throw badRequest('missing required field: file', { fields: [{ path: 'file', message: 'required' }] });
      if (f.model === undefined) throw badRequest('missing required field: model', { fields: [{ path: 'model', message: 'required' }] });
      const format = f.response_format ?? 'json';
      if (REFUSED_FORMATS.has(format)) throw unsupportedField('response_format', `"${format}" is not supported; use json or text`);
      if (format !== 'json' && format !== 'text') throw validationError([{ path: 'response_format', message: 'json or text' }]);
      const audio = audioFormatOf('file', upload.file.filename, upload.file.mimetype);
      const input = transcriptionInput({
        catalog: deps.catalog,
        model: transcriptionModel(deps.catalog, f.model),
        language: f.language,
        prompt: f.prompt,
        temperature: numberField('temperature', f.temperature),
        wait: V1_MEDIA_WAIT_SECONDS,
      });
      const g = await submitJobRequest(deps, reply, caller, input, { upload: uploadInput(upload.file, 'file', audio) });
      // Still running or failed: the same answers as the other /v1 media routes (504 naming the generation, or 500).
      if (g.status !== 'completed') throw jobError(g);
      const ids = { 'x-generation-id': String(g.id), 'x-lumengate-tokens-spent': String(g.tokens_spent) };
      void reply.headers(ids);
      if (format === 'text') return reply.type('text/plain; charset=utf-8').send(g.result_text ?? '');
      return { text: g.result_text ?? '' };
    } finally {
      await upload.discard();
    }
  });
}
