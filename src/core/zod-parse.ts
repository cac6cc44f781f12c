// zod's safeParse with `reportInput` (each issue keeps the value it is about: the errors that name
// an unknown field or quote a bad value need it), paid for only by a value that fails. Any parse
// option puts zod 4 on a slower path for every value, failing or not: the parse context is then
// an object of another shape, read at every field (bench/NOTES.md, thirtieth session: the v2
// generate body 1.5 → 4.9 µs warm, 33 → 66 µs on a machine that was idle 20 ms). So a value is
// parsed without options, and again with reportInput only to build the error. Parsing is
// deterministic (no schema here has a side effect), so the second parse fails as the first did.
import type { z } from 'zod';

export function safeParseReporting<T extends z.ZodType>(schema: T, value: unknown): z.ZodSafeParseResult<z.output<T>> {
  const parsed = schema.safeParse(value);
  return parsed.success ? parsed : schema.safeParse(value, { reportInput: true });
}
