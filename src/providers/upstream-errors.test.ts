import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { errorBodyText } from './upstream-errors.js';

describe('errorBodyText', () => {
  it('decodes a character split between two pieces of the body whole', async () => {
    const bytes = Buffer.from('{"error":{"message":"Квота исчерпана 🚫"}}');
    // Every split point, so some fall inside a two-byte Cyrillic letter and inside the four-byte emoji.
    for (let at = 1; at < bytes.length; at++) {
      const text = await errorBodyText(Readable.from([bytes.subarray(0, at), bytes.subarray(at)]));
      assert.equal(text, bytes.toString('utf8'), `split at byte ${at}`);
    }
  });
});
