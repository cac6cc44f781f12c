// Compiles a strict response_format schema with ajv and checks an answer against it, in a worker
// thread (structured-output.ts says why). One job at a time; after each, every schema is removed
// from the compiler: each request brings its own, and one that stayed would keep its memory for
// good and keep its `$id` taken (another account's schema with that `$id` refused, or its `$ref`
// resolving to this one).
import { parentPort } from 'node:worker_threads';
import { Ajv } from 'ajv';

export interface SchemaJob {
  schema: Record<string, unknown>;
  /** The answer to check; without it the schema is only compiled. */
  text?: string;
}
/** `error`: the schema does not compile; `mismatch`: why the answer does not conform. */
export type SchemaAnswer = { ok: true } | { error: string } | { mismatch: string };

const ajv = new Ajv({ allErrors: false, strict: false, validateSchema: true });

function run({ schema, text }: SchemaJob): SchemaAnswer {
  let validate;
  try {
    // The dialect declaration is not checked (zod 4, hence LangChain, sends 2020-12, which this
    // compiler does not load): the subset structured output allows reads the same in every draft.
    const { $schema: _dialect, ...rest } = schema;
    validate = ajv.compile(rest);
  } catch (err) {
    return { error: (err as Error).message };
  }
  if (text === undefined) return { ok: true };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { mismatch: 'the answer is not JSON' };
  }
  if (validate(value)) return { ok: true };
  const e = validate.errors?.[0];
  return { mismatch: e ? `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}` : 'it does not match' };
}

parentPort!.on('message', (job: SchemaJob) => {
  try {
    parentPort!.postMessage(run(job));
  } finally {
    ajv.removeSchema();
  }
});
// Ready once the compiler (and its meta-schema) is built: a job's time limit starts after that.
parentPort!.postMessage('ready');
