// Settings that are a timer's wait are refused above what Node's timers take: a larger one fires
// after 1 ms, and a poll set to "practically never" would run a claim a thousand times a second.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_TIMER_MS, settingsFromEnv } from './env.js';

describe('timer settings', () => {
  for (const name of [
    'LUMENGATE_WEBHOOK_POLL_MS',
    'LUMENGATE_JOB_IDLE_POLL_MS',
    'LUMENGATE_HEARTBEAT_MS',
    'LUMENGATE_SWEEP_MS',
    'LUMENGATE_JOB_LEASE_MS',
    'LUMENGATE_JOB_TIMEOUT_MS',
    'LUMENGATE_WEBHOOK_TIMEOUT_MS',
  ]) {
    it(`${name}: the longest timer is taken, one more millisecond is refused by name`, () => {
      assert.doesNotThrow(() => settingsFromEnv({ [name]: String(MAX_TIMER_MS) }));
      assert.throws(() => settingsFromEnv({ [name]: String(MAX_TIMER_MS + 1) }), new RegExp(`^Error: ${name} must be at most ${MAX_TIMER_MS} ms`));
    });
  }
  it('the defaults are unchanged', () => {
    const s = settingsFromEnv({});
    assert.deepEqual([s.webhookPollMs, s.heartbeatMs, s.sweepMs, s.jobs.idlePollMs, s.jobs.leaseMs], [2_000, 15_000, 60_000, 1_000, 30_000]);
  });
});
