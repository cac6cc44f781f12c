// anyRefused (the walk every request body takes) must agree with findRefused (which names the field).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { anyRefused, findRefused, MAX_JSON_DEPTH } from './nul.js';

/** `inner` wrapped in `levels` arrays and objects, alternating. */
const nest = (levels: number, inner: unknown): unknown => {
  let v = inner;
  for (let i = 0; i < levels; i++) v = i % 2 ? { k: v } : [v];
  return v;
};

describe('anyRefused agrees with findRefused', () => {
  const cases: Array<[string, unknown, string | null]> = [
    ['a plain chat body', { model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 0.5, stream: true, stop: null }, null],
    ['NUL in a deep string', { messages: [{ role: 'user', content: [{ type: 'text', text: 'a\0b' }] }] }, 'messages.0.content.0.text'],
    ['NUL in a key', { tools: [{ parameters: { properties: { 'x\0': {} } } }] }, 'tools.0.parameters.properties.x\0'],
    ['NUL in the body itself', 'a\0', '(body)'],
    ['nested exactly to the limit', nest(MAX_JSON_DEPTH - 1, {}), null],
    ['nested one level deeper', nest(MAX_JSON_DEPTH, {}), 'depth'],
    ['a scalar nested deep is no level', nest(MAX_JSON_DEPTH - 1, 'deep'), null],
    ['an empty body', {}, null],
  ];
  for (const [name, value, expected] of cases) {
    it(name, () => {
      const found = findRefused(value);
      assert.equal(anyRefused(value), found !== null);
      if (expected === 'depth') assert.equal(found?.why, 'depth');
      else assert.equal(found?.path ?? null, expected);
    });
  }
});
