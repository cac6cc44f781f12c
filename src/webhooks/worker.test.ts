// The delivery worker against a stand-in claim the test holds open: a wake that finds every slot
// reserved by a claim under way (a delivery queued after the claim read the table) must look again
// once the claim gives its unused slots back, not wait for the next poll.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeliveryWorker } from './worker.js';
import type { Db } from '../db/connect.js';
import type { WebhookDelivery } from '../db/schema.js';
import type { Sender } from './send.js';

/** Claims that each wait for the test to answer them; `started(n)` resolves when claim n has begun. */
function heldClaims() {
  const answers: ((rows: WebhookDelivery[]) => void)[] = [];
  const waiting: (() => void)[] = [];
  return {
    claim: () =>
      new Promise<WebhookDelivery[]>((resolve) => {
        answers.push(resolve);
        waiting.shift()?.();
      }),
    count: () => answers.length,
    /** Rejects if claim `n` has not started within 5 s (a cap, not a wait). */
    started: (n: number) => {
      if (answers.length >= n) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        // A timer that keeps the process up: nothing else does while the worker waits for its poll.
        const cap = setTimeout(() => reject(new Error(`claim ${n} never started (${answers.length} did)`)), 5_000);
        waiting.push(() => {
          clearTimeout(cap);
          resolve();
        });
      });
    },
    answer: (n: number, rows: WebhookDelivery[] = []) => answers[n - 1]!(rows),
  };
}

describe('DeliveryWorker', () => {
  it('a wake while the only slot is reserved by a claim that finds nothing starts another claim once the slot is back', async () => {
    const claims = heldClaims();
    const sender: Sender = { send: () => assert.fail('nothing is claimed, nothing is sent'), close: async () => {} };
    // One slot, no poll within the test: only a wake can start the second claim.
    const worker = new DeliveryWorker({ db: {} as Db, sender, concurrency: 1, perAccount: 1, pollMs: 3_600_000, leaseMs: 60_000, claim: claims.claim });
    worker.start(); // claim 1 takes the slot
    try {
      await claims.started(1);
      worker.wake(); // a delivery queued while claim 1 is under way: no room
      claims.answer(1); // claim 1 read the table before it: nothing
      await claims.started(2);
      claims.answer(2);
    } finally {
      await worker.stop();
    }
    assert.equal(claims.count(), 2);
  });
});
