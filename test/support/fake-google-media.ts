// A fake of the Gemini API's media endpoints (x-goog-api-key auth): Imagen `:predict` answers
// predictions[{bytesBase64Encoded, mimeType}]; Veo `:predictLongRunning` answers an operation
// {name}, each GET of it advances it (first not done, then done with
// response.generateVideoResponse.generatedSamples[].video.uri, or videoUri's); the URI's download redirects
// (302) to a signed storage URL on another origin (a second server) like the real files API. Errors: {error:{code,message,status}}.
import { fakeBytes, startFakeMedia, type FakeAnswer, type FakeMediaServer } from './fake-media.js';

export const FAKE_GOOGLE_KEY = 'goog-test';

export function googleError(code: number, message: string, status: string): FakeAnswer {
  return { status: code, json: { error: { code, message, status } } };
}

export interface FakeGoogleMedia extends FakeMediaServer {
  /** Operation name -> GET count. */
  readonly operations: Map<string, { reads: number; prompt: string }>;
  /** The signed-URL storage server the downloads redirect to. */
  readonly storage: FakeMediaServer;
  /** When set, the video URI a done operation answers instead of its own files API's. */
  videoUri?: (id: string) => string;
}

export async function startFakeGoogleMedia(): Promise<FakeGoogleMedia> {
  const operations = new Map<string, { reads: number; prompt: string }>();
  let next = 0;
  let origin = '';
  // The signed storage URL needs (and must receive) no API key.
  const storage = await startFakeMedia((req): FakeAnswer | undefined => {
    const stored = /^\/storage\/(.+)\.mp4$/.exec(req.pathname);
    if (!stored || req.method !== 'GET') return undefined;
    if (req.headers['x-goog-api-key'] !== undefined) return { status: 400, body: 'key leaked to storage' };
    return { headers: { 'content-type': 'video/mp4' }, body: fakeBytes('MP4', stored[1]!) };
  });
  const server = await startFakeMedia((req): FakeAnswer | undefined => {
    if (req.headers['x-goog-api-key'] !== FAKE_GOOGLE_KEY) return googleError(400, 'API key not valid. Please pass a valid API key.', 'INVALID_ARGUMENT');
    const predict = /^\/v1beta\/models\/([^/:]+):(predict|predictLongRunning)$/.exec(req.pathname);
    if (predict && req.method === 'POST') {
      const prompt: string = req.json?.instances?.[0]?.prompt ?? '';
      if (predict[2] === 'predict') {
        // A filtered prompt: Imagen answers an empty object.
        if (prompt.includes('forbidden')) return { json: {} };
        return { json: { predictions: [{ bytesBase64Encoded: Buffer.from(fakeBytes('PNG', prompt)).toString('base64'), mimeType: 'image/png' }] } };
      }
      const name = `models/${predict[1]}/operations/op${++next}`;
      operations.set(name, { reads: 0, prompt });
      return { json: { name } };
    }
    const file = /^\/v1beta\/files\/([\w-]+):download$/.exec(req.pathname);
    if (file && req.method === 'GET') return { status: 302, headers: { location: `${storage.origin}/storage/${file[1]}.mp4?sig=abc` } };
    const op = operations.get(req.pathname.replace(/^\/v1beta\//, ''));
    if (op && req.method === 'GET') {
      const name = req.pathname.replace(/^\/v1beta\//, '');
      if (++op.reads < 2) return { json: { name } };
      if (op.prompt.includes('fail')) return { json: { name, done: true, error: { code: 13, message: 'Video generation failed due to an internal error.' } } };
      const id = name.split('/').at(-1)!;
      return {
        json: {
          name,
          done: true,
          response: {
            '@type': 'type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse',
            generateVideoResponse: { generatedSamples: [{ video: { uri: (server as Partial<FakeGoogleMedia>).videoUri?.(id) ?? `${origin}/v1beta/files/${id}:download?alt=media` } }] },
          },
        },
      };
    }
    return undefined;
  });
  origin = server.origin;
  const close = server.close;
  return Object.assign(server, {
    operations,
    storage,
    close: async () => {
      await Promise.all([close(), storage.close()]);
    },
  });
}
