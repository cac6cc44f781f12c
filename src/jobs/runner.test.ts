// The job runner's loop against a stand-in claim the test holds open: a wake that comes while a
// claim is under way (a job submitted after the claim read the queue, or a job ended that freed its
// account's slot) must start another claim, not be lost until the next idle poll.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { JobRunner, type Claim } from './runner.js';
import type { JobDeps } from './execute.js';
import type { Job } from '../db/schema.js';

/** Claims that each wait for the test to answer them; `next()` resolves when the loop starts one. */
function heldClaims() {
  const answers: ((jobs: Job[]) => void)[] = [];
  const started: (() => void)[] = [];
  const claim: Claim = () =>
    new Promise<Job[]>((resolve) => {
      answers.push(resolve);
      started.shift()?.();
    });
  return {
    claim,
    /** Claims started so far. */
    count: () => answers.length,
    /** Resolves once claim number `n` (1, 2, …) has started; rejects if it has not within 5 s (a cap, not a wait). */
    started: (n: number) => {
      if (answers.length >= n) return Promise.resolve();
      const cap = AbortSignal.timeout(5_000);
      return new Promise<void>((resolve, reject) => {
        started.push(resolve);
        cap.addEventListener('abort', () => reject(new Error(`claim ${n} never started (${answers.length} did)`)));
      });
    },
    answer: (n: number, jobs: Job[] = []) => answers[n - 1]!(jobs),
  };
}

describe('JobRunner', () => {
  it('a wake during a claim that found nothing starts another claim at once, not at the next idle poll', { timeout: 10_000 }, async () => {
    // No idle poll within the test: only a wake can start the second claim.
    const deps = { jobs: { concurrency: 2, perAccount: 1, leaseMs: 60_000, idlePollMs: 3_600_000 } } as unknown as JobDeps;
    const claims = heldClaims();
    const runner = new JobRunner(deps, claims.claim);
    runner.start();
    try {
      await claims.started(1);
      runner.wake(); // a job submitted (or one ended) while claim 1 is under way
      claims.answer(1); // claim 1 read the queue before that job: nothing
      await claims.started(2);
      claims.answer(2);
    } finally {
      await runner.stop();
    }
  });

  it('a wake starts one more claim, not a busy loop: after a claim that found nothing the loop waits for the idle poll', { timeout: 10_000 }, async () => {
    const deps = { jobs: { concurrency: 2, perAccount: 1, leaseMs: 60_000, idlePollMs: 3_600_000 } } as unknown as JobDeps;
    const claims = heldClaims();
    const runner = new JobRunner(deps, claims.claim);
    runner.start();
    await claims.started(1);
    claims.answer(1);
    runner.wake();
    await claims.started(2);
    claims.answer(2);
    // The loop's way from an answer to its next claim is promise reactions only: they have all run
    // before setImmediate's turn, so a third claim would have started by then.
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(claims.count(), 2, 'the loop waits for the idle poll');
    await runner.stop();
    assert.equal(claims.count(), 2);
  });
});
