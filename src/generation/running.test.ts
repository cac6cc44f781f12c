import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError } from '../core/errors.js';
import { RunningGenerations } from './running.js';

describe('RunningGenerations places per account', () => {
  it('refuses one more than the cap with 429 details, per account; an account back at 0 leaves no entry', () => {
    const running = new RunningGenerations(2);
    const a1 = running.claim(1);
    const a2 = running.claim(1);
    const b1 = running.claim(2);
    assert.throws(
      () => running.claim(1),
      (err: unknown) =>
        err instanceof GatewayError &&
        err.code === 'rate_limit_exceeded' &&
        err.headers['retry-after'] === '1' &&
        JSON.stringify(err.details) === JSON.stringify({ reason: 'concurrent_generations', in_flight: 2, max_in_flight: 2 }),
    );
    assert.equal(running.accounts, 2);
    a1();
    a1(); // a second release gives back nothing more
    assert.equal(running.inFlight(1), 1);
    running.claim(1); // room again
    assert.throws(() => running.claim(1), GatewayError);
    a2();
    b1();
    assert.equal(running.inFlight(2), 0);
    assert.equal(running.accounts, 1, 'account 2 ran nothing: no entry left for it');
  });
});
