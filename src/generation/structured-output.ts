// Strict structured output (docs/api.md): with response_format json_schema and strict: true, the
// finished answer must parse as JSON and match the schema, or the generation fails at 0. The
// schema is compiled before anything is held, so a broken schema is the caller's 422.
import { Ajv, type ValidateFunction } from 'ajv';
import { validationError } from '../core/errors.js';
import type { ResponseFormat } from '../providers/spec.js';

/** Returns why the text does not conform, or undefined when it does. */
export type OutputCheck = (text: string) => string | undefined;

// One compiler for the process; schemas are not cached (each request brings its own).
const ajv = new Ajv({ allErrors: false, strict: false, validateSchema: true });

/** `at`: where the body has response_format (optionPath: /api/v2's params.response_format). */
export function compileOutputSchema(format: ResponseFormat | undefined, at = 'response_format'): OutputCheck | undefined {
  if (format?.type !== 'json_schema' || format.strict !== true) return undefined;
  let validate: ValidateFunction;
  try {
    // The dialect declaration is not checked (zod 4, hence LangChain, sends 2020-12, which this
    // compiler does not load): the subset structured output allows reads the same in every draft.
    const { $schema: _dialect, ...schema } = format.schema;
    validate = ajv.compile(schema);
  } catch (err) {
    throw validationError([{ path: `${at}.json_schema.schema`, message: `not a valid JSON Schema: ${(err as Error).message}` }]);
  }
  return (text) => {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return 'the answer is not JSON';
    }
    if (validate(value)) return undefined;
    const e = validate.errors?.[0];
    return e ? `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}` : 'it does not match';
  };
}
