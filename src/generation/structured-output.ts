// Strict structured output (docs/api.md): with response_format json_schema and strict: true, the
// finished answer must parse as JSON and match the schema, or the generation fails at 0. The
// schema is compiled before anything is held, so a broken schema is the caller's 422.
//
// Both run in a worker thread (schema-check-worker.ts), one job at a time, each within
// SCHEMA_CHECK_MS, the accounts that wait taking turns. On the event loop, one request froze every
// other of the process: ajv's compile time grows with the square of a schema's properties (2,000
// took 10 s, in a 90 KB body answered 422 or 402 without a charge), and a `pattern` runs on V8's
// backtracking engine (`^(a+)+$` against 30 characters of an answer runs for minutes). A job over
// its time has the worker stopped (another starts for the next): the schema is refused, or the
// answer fails as not matching.
import { Worker } from 'node:worker_threads';
import { validationError } from '../core/errors.js';
import type { ResponseFormat } from '../providers/spec.js';
import type { SchemaAnswer, SchemaJob } from './schema-check-worker.js';

/** Returns why the text does not conform, or undefined when it does. */
export type OutputCheck = (text: string) => Promise<string | undefined>;

/** A job's time in the worker (compiling a schema, or checking an answer against it). */
export const SCHEMA_CHECK_MS = 1_000;

/** A job that did not answer: over its time, or the worker stopped (out of memory, say). */
type Stopped = { stopped: string };
type Waiting = { job: SchemaJob; done(answer: SchemaAnswer | Stopped): void };

class SchemaChecker {
  #worker: Worker | undefined;
  #ready = false;
  #running: { waiting: Waiting; timer: NodeJS.Timeout } | undefined;
  /** Jobs waiting, per account; the Map's order is the order of turns. */
  #queues = new Map<number, Waiting[]>();

  run(account: number, job: SchemaJob): Promise<SchemaAnswer | Stopped> {
    return new Promise((done) => {
      const queue = this.#queues.get(account);
      if (queue) queue.push({ job, done });
      else this.#queues.set(account, [{ job, done }]);
      this.#next();
    });
  }

  #next(): void {
    if (this.#running) return;
    const turn = this.#queues.entries().next();
    if (turn.done) {
      // Idle: the worker does not hold the process open.
      this.#worker?.unref();
      return;
    }
    const worker = this.#start();
    if (!this.#ready) return;
    const [account, queue] = turn.value;
    const waiting = queue.shift()!;
    // Its turn taken, the account goes to the back: one account's backlog delays another's job by one of its own at most.
    this.#queues.delete(account);
    if (queue.length > 0) this.#queues.set(account, queue);
    worker.ref();
    const timer = setTimeout(() => {
      this.#detach();
      void worker.terminate();
      this.#finish({ stopped: `the check did not finish within ${SCHEMA_CHECK_MS} ms` });
    }, SCHEMA_CHECK_MS);
    this.#running = { waiting, timer };
    worker.postMessage(waiting.job);
  }

  #finish(answer: SchemaAnswer | Stopped): void {
    const running = this.#running;
    this.#running = undefined;
    if (running) {
      clearTimeout(running.timer);
      running.waiting.done(answer);
    }
    this.#next();
  }

  #detach(): void {
    this.#worker = undefined;
    this.#ready = false;
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const w = new Worker(new URL('./schema-check-worker.js', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: 256 } });
    let failure = 'exited';
    w.on('message', (m: SchemaAnswer | 'ready') => {
      // An answer posted as its time ran out belongs to no job now.
      if (this.#worker !== w) return;
      if (m !== 'ready') return this.#finish(m);
      this.#ready = true;
      this.#next();
    });
    w.on('error', (err) => void (failure = err.message));
    w.on('exit', () => {
      // A worker stopped for its time is already replaced; any other end fails the job it had.
      if (this.#worker !== w) return;
      this.#detach();
      if (this.#running) return this.#finish({ stopped: `the check stopped: ${failure}` });
      // It ended before taking a job: the first one waiting fails rather than start worker after worker.
      const turn = this.#queues.entries().next();
      if (!turn.done) {
        const [account, queue] = turn.value;
        queue.shift()!.done({ stopped: `the check could not start: ${failure}` });
        if (queue.length === 0) this.#queues.delete(account);
      }
      this.#next();
    });
    this.#worker = w;
    return w;
  }
}

const checker = new SchemaChecker();

/**
 * The check of a strict json_schema response_format, its schema compiled (422 when it does not
 * compile in time); undefined when there is nothing to check. `at`: where the body has
 * response_format (optionPath: /api/v2's params.response_format); `account` takes its turns.
 */
export async function compileOutputSchema(format: ResponseFormat | undefined, at: string, account: number): Promise<OutputCheck | undefined> {
  if (format?.type !== 'json_schema' || format.strict !== true) return undefined;
  const { schema } = format;
  const compiled = await checker.run(account, { schema });
  if ('error' in compiled) throw validationError([{ path: `${at}.json_schema.schema`, message: `not a valid JSON Schema: ${compiled.error}` }]);
  if ('stopped' in compiled) throw validationError([{ path: `${at}.json_schema.schema`, message: `too large or complex to check: ${compiled.stopped}` }]);
  return async (text) => {
    const a = await checker.run(account, { schema, text });
    return 'mismatch' in a ? a.mismatch : 'error' in a ? `not a valid JSON Schema: ${a.error}` : 'stopped' in a ? `not checked: ${a.stopped}` : undefined;
  };
}
