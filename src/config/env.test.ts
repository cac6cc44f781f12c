// Settings that are a timer's wait are refused above what Node's timers take: a larger one fires
// after 1 ms, and a poll set to "practically never" would run a claim a thousand times a second.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_MAX_OUTPUT_BYTES, MAX_OUTPUT_BYTES_LIMIT, MAX_TIMER_MS, settingsFromEnv } from './env.js';

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
  it('LUMENGATE_TOOL_STATE_TTL_S: seconds, 24 hours by default; 0 is refused by name', () => {
    assert.equal(settingsFromEnv({}).toolStateTtlMs, 86_400_000);
    assert.equal(settingsFromEnv({ LUMENGATE_TOOL_STATE_TTL_S: '600' }).toolStateTtlMs, 600_000);
    assert.throws(() => settingsFromEnv({ LUMENGATE_TOOL_STATE_TTL_S: '0' }), /^Error: LUMENGATE_TOOL_STATE_TTL_S must be a positive integer/);
  });
  it('the defaults are unchanged', () => {
    const s = settingsFromEnv({});
    assert.deepEqual([s.webhookPollMs, s.heartbeatMs, s.sweepMs, s.jobs.idlePollMs, s.jobs.leaseMs], [2_000, 15_000, 60_000, 1_000, 30_000]);
  });
});

describe('LUMENGATE_MAX_OUTPUT_BYTES', () => {
  it('512 MiB by default; any whole number of bytes from 1 to 4 GiB is taken', () => {
    assert.equal(settingsFromEnv({}).jobs.maxOutputBytes, DEFAULT_MAX_OUTPUT_BYTES);
    assert.equal(DEFAULT_MAX_OUTPUT_BYTES, 536_870_912);
    assert.equal(settingsFromEnv({ LUMENGATE_MAX_OUTPUT_BYTES: '' }).jobs.maxOutputBytes, DEFAULT_MAX_OUTPUT_BYTES);
    for (const n of [1, 65_536, MAX_OUTPUT_BYTES_LIMIT]) assert.equal(settingsFromEnv({ LUMENGATE_MAX_OUTPUT_BYTES: String(n) }).jobs.maxOutputBytes, n);
  });
  it('zero, negatives, fractions, units and more than 4 GiB are refused at start, naming it', () => {
    for (const v of ['0', '-1', '1.5', '512MiB', 'lots', '1e400']) {
      assert.throws(() => settingsFromEnv({ LUMENGATE_MAX_OUTPUT_BYTES: v }), { message: `LUMENGATE_MAX_OUTPUT_BYTES must be a positive whole number of bytes, got ${JSON.stringify(v)}` });
    }
    assert.throws(() => settingsFromEnv({ LUMENGATE_MAX_OUTPUT_BYTES: String(MAX_OUTPUT_BYTES_LIMIT + 1) }), /^Error: LUMENGATE_MAX_OUTPUT_BYTES must be at most 4294967296 \(4 GiB/);
  });
});
