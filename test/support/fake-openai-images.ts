// A fake of OpenAI's images/generations whose answers are real, decodable PNGs (a browser renders
// them: naturalWidth is the requested width), in the wire shape of fake-openai-media.ts (b64_json,
// revised_prompt, OpenAI's error envelope). The prompt "fail: <message>" answers OpenAI's 400
// content-policy error, so tests can make a job fail on purpose; "hold: …" is answered only after
// release() (a job that stays pending for as long as a test needs).
import { deflateSync } from 'node:zlib';
import { startFakeMedia, type FakeMediaServer } from './fake-media.js';
import { FAKE_OPENAI_KEY, openAIError } from './fake-openai-media.js';

export { FAKE_OPENAI_KEY };

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** A width×height RGB PNG with a gradient (not one flat colour, so a broken decode would show). */
export function pngOf(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit depth, truecolour, deflate, no filter, no interlace
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) {
    const row = y * (width * 3 + 1);
    for (let x = 0; x < width; x++) rows.set([(x * 255) / width, (y * 255) / height, 160], row + 1 + x * 3);
  }
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows)), chunk('IEND', Buffer.alloc(0))]);
}

export interface FakeOpenAIImages extends FakeMediaServer {
  /** Answers the held "hold: …" requests (and any later ones) at once. */
  release(): void;
}

/** images/generations answering a PNG of the requested size (dall-e-3 shape: b64_json + revised_prompt). */
export async function startFakeOpenAIImages(): Promise<FakeOpenAIImages> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const server = await startFakeMedia(async (req) => {
    if (req.headers.authorization !== `Bearer ${FAKE_OPENAI_KEY}`) return openAIError(401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
    if (req.method !== 'POST' || req.pathname !== '/v1/images/generations') return undefined;
    const prompt = String(req.json.prompt);
    if (prompt.startsWith('fail: ')) return openAIError(400, prompt.slice(6), 'invalid_request_error', 'content_policy_violation');
    if (prompt.startsWith('hold: ')) await released;
    const [w, h] = String(req.json.size ?? '1024x1024')
      .split('x')
      .map(Number);
    // A small picture whatever the size asked (the gateway records the size it asked for).
    const png = pngOf(Math.min(w!, 96), Math.min(h!, 64));
    return { json: { created: 1713833628, data: [{ b64_json: png.toString('base64'), revised_prompt: `A detailed picture: ${prompt}` }] } };
  });
  return Object.assign(server, { release });
}
