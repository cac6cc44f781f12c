import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Db } from './connect.js';
import { batched, IN_FLIGHT, type BatchKind } from './postgres-batch.js';

/** A kind whose single call answers `n * 10` and records how each call was made; `gate` holds the singles until released. */
function fakeKind(batchError: unknown) {
  const calls: string[] = [];
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const kind: BatchKind<number, number> = {
    async single(_db, n) {
      calls.push(`single ${n}`);
      await gate;
      if (n === 13) throw new Error('thirteen');
      return n * 10;
    },
    async batch(_db, ns) {
      calls.push(`batch ${ns.join(',')}`);
      throw batchError;
    },
  };
  return { kind, calls, open };
}

describe('postgres-batch: a batch the server refuses', () => {
  it('asks each call again alone when PostgreSQL refused the statement (one caller input cannot fail the others)', async () => {
    const refused = Object.assign(new Error('invalid input syntax'), { code: '22P02', severity: 'ERROR' });
    const { kind, calls, open } = fakeKind(refused);
    const db = {} as Db;
    assert.equal(IN_FLIGHT, 1);
    // One goes at once (held at the gate); the next five queue and leave together as one batch.
    const answers = [1, 2, 3, 13, 5, 6].map((n) =>
      batched(db, kind, n).then(
        (v) => v,
        (e: Error) => e.message,
      ),
    );
    open();
    assert.deepEqual(await Promise.all(answers), [10, 20, 30, 'thirteen', 50, 60]);
    assert.ok(calls.includes('batch 2,3,13,5,6'), calls.join('; '));
    assert.deepEqual(calls.filter((c) => c.startsWith('single')).sort(), ['single 1', 'single 13', 'single 2', 'single 3', 'single 5', 'single 6']);
  });

  it('repeats nothing when the connection failed (the statement may have committed)', async () => {
    const reset = Object.assign(new Error('Connection terminated unexpectedly'), { code: 'ECONNRESET' });
    const { kind, calls, open } = fakeKind(reset);
    const db = {} as Db;
    const answers = [1, 2, 3, 4].map((n) =>
      batched(db, kind, n).then(
        (v) => v,
        (e: Error) => e.message,
      ),
    );
    open();
    assert.deepEqual(await Promise.all(answers), [10, 'Connection terminated unexpectedly', 'Connection terminated unexpectedly', 'Connection terminated unexpectedly']);
    assert.deepEqual(calls, ['single 1', 'batch 2,3,4']);
  });
});
