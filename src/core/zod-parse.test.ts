import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { safeParseReporting } from './zod-parse.js';

/** The schema, its safeParse calls recorded (the options each was given). */
function spied(schema: z.ZodType): { schema: z.ZodType; calls: unknown[] } {
  const calls: unknown[] = [];
  const spy = Object.create(schema) as z.ZodType;
  spy.safeParse = (value, opts) => {
    calls.push(opts);
    return schema.safeParse(value, opts);
  };
  return { schema: spy, calls };
}

describe('safeParseReporting', () => {
  const body = z.strictObject({ model: z.string(), n: z.number().optional() });

  it('parses a valid value once, without options (any option is zod 4’s slower path)', () => {
    const { schema, calls } = spied(body);
    const r = safeParseReporting(schema, { model: 'm', n: 2 });
    assert.deepEqual(r, { success: true, data: { model: 'm', n: 2 } });
    assert.deepEqual(calls, [undefined]);
  });

  it('parses a failing value again with reportInput: its issues carry the values they are about', () => {
    const { schema, calls } = spied(body);
    const r = safeParseReporting(schema, { model: 'm', n: 'two', extra: 1 });
    assert.ok(!r.success);
    assert.deepEqual(calls, [undefined, { reportInput: true }]);
    const byCode = Object.fromEntries(r.error.issues.map((i) => [i.code, i]));
    assert.equal(byCode.invalid_type?.input, 'two');
    assert.deepEqual(byCode.unrecognized_keys?.input, { model: 'm', n: 'two', extra: 1 });
  });
});
