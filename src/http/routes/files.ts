// GET /files/<generation id>/<name>?expires=&sig= (docs/api.md): result files, authorised by the
// URL's signature alone (no API key: the URL goes into <img> tags and browsers). Streams from the
// configured store, with the media type the job recorded.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from '../../core/errors.js';
import { findGeneration } from '../../generation/store.js';
import { checkKey, resultFilesOf } from '../../storage/files.js';

type FileRequest = FastifyRequest<{ Params: { generationId: string; name: string }; Querystring: { expires?: string; sig?: string } }>;

export async function fileRoutes(app: FastifyInstance): Promise<void> {
  const files = app.services.files;
  if (!files) return;

  app.get('/files/:generationId/:name', { config: { public: true } }, async (req: FileRequest, reply) => {
    const key = `${req.params.generationId}/${req.params.name}`;
    // The signature first: nothing about a key (its existence, its validity) is told to an unsigned request.
    const { expires, sig } = req.query;
    if (!files.signer.verify(key, typeof expires === 'string' ? expires : undefined, typeof sig === 'string' ? sig : undefined)) {
      throw new GatewayError('forbidden', 'invalid or expired file signature');
    }
    try {
      checkKey(key);
    } catch {
      throw new GatewayError('bad_request', 'invalid file name');
    }
    const gone = () => new GatewayError('not_found', 'file not found (deleted or past its retention)');
    const g = await findGeneration(app.services.db, Number(req.params.generationId));
    const { files: list, files_expired_at } = resultFilesOf(g && !g.deleted_at ? g.result_json : null);
    const entry = list?.find((f) => f.key === key);
    if (!entry || files_expired_at) throw gone();
    const stored = await files.store.get(key);
    if (!stored) throw gone();
    return (
      reply
        .header('content-type', entry.media_type)
        .header('content-length', String(stored.bytes))
        .header('content-disposition', `inline; filename="${req.params.name}"`)
        // Provider output is served from the API's origin: never let it run as a page there.
        .header('content-security-policy', "default-src 'none'; sandbox")
        .header('x-content-type-options', 'nosniff')
        .header('cache-control', 'private, max-age=3600')
        .send(stored.body)
    );
  });
}
