// stream_options.include_obfuscation (docs/api.md): OpenAI pads each streamed delta event with
// random characters in an `obfuscation` field, so that someone watching the encrypted stream
// cannot read the length of each token from the size of each event. Here the padding brings the
// delta's bytes on the wire (its JSON encoding, UTF-8) up to the next multiple of 16: 1 to 16
// letters and digits, as OpenAI's own streams pad one-character deltas with 15.
import { randomFillSync } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const BUCKET = 16;
/** Random bytes drawn a few thousand at a time: one system call per ~300 events, not per event. */
const pool = Buffer.alloc(4096);
let used = pool.length;

/** The `obfuscation` value for an event whose delta is `delta` (a string, or a chat delta object). */
export function obfuscation(delta: unknown): string {
  const n = BUCKET - (Buffer.byteLength(JSON.stringify(delta)) % BUCKET);
  if (used + n > pool.length) {
    randomFillSync(pool);
    used = 0;
  }
  let s = '';
  for (let i = 0; i < n; i++) s += ALPHABET[pool[used++]! % ALPHABET.length];
  return s;
}
