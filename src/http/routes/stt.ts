// POST /api/v2/stt (docs/api.md, "Transcriptions"): a multipart upload of speech, transcribed by an
// stt model as a media job. The file is streamed to a temp file, stored under the generation, and
// the answer is the generation object (result_text) when the job ends within `wait` (default 60 s).
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../../core/errors.js';
import { generationObject } from '../../generation/object.js';
import { balanceOf } from '../../jobs/store.js';
import { audioFormatOf, booleanField, numberField, sttModel, transcriptionInput } from '../../jobs/transcription.js';
import { callerOf } from '../app.js';
import { resultLinks, submitJobRequest } from '../jobs.js';
import { readUpload, registerMultipart, uploadInput } from '../uploads.js';

const FIELDS: ReadonlySet<string> = new Set(['model', 'language', 'diarize', 'prompt', 'temperature', 'wait', 'callback_url']);

export async function sttRoutes(app: FastifyInstance): Promise<void> {
  const deps = app.services;
  await registerMultipart(app);

  app.post('/api/v2/stt', async (req, reply) => {
    const caller = callerOf(req);
    const upload = await readUpload(req, { fileField: 'audio', fields: FIELDS, dir: deps.settings.uploadDir });
    try {
      const f = upload.fields;
      if (!upload.file) throw badRequest('missing required field: audio (the speech file)', { fields: [{ path: 'audio', message: 'required' }] });
      const format = audioFormatOf('audio', upload.file.filename, upload.file.mimetype);
      const input = transcriptionInput({
        catalog: deps.catalog,
        model: sttModel(deps.catalog, f.model ?? 'whisper'),
        language: f.language,
        prompt: f.prompt,
        temperature: numberField('temperature', f.temperature),
        diarize: booleanField('diarize', f.diarize),
        wait: numberField('wait', f.wait),
        callbackUrl: f.callback_url,
      });
      const g = await submitJobRequest(deps, reply, caller, input, { upload: uploadInput(upload.file, 'audio', format) });
      return generationObject(g, await balanceOf(deps.db, caller.account.id), resultLinks(deps, req));
    } finally {
      await upload.discard();
    }
  });
}
