import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Cancellation } from './cancel.js';

describe('Cancellation', () => {
  it('calls its listeners once, in order, with the first reason; a removed one is not called', () => {
    const c = new Cancellation();
    const calls: string[] = [];
    c.onAbort((r) => calls.push(`a:${String(r)}`));
    const remove = c.onAbort((r) => calls.push(`b:${String(r)}`));
    c.onAbort((r) => calls.push(`c:${String(r)}`));
    remove();
    assert.equal(c.aborted, false);
    c.abort('first');
    c.abort('second');
    assert.deepEqual(calls, ['a:first', 'c:first']);
    assert.equal(c.aborted, true);
    assert.equal(c.reason, 'first');
  });

  it('a listener added after the cancellation is called at once (an AbortSignal would never call it)', () => {
    const c = new Cancellation();
    c.abort('gone');
    const calls: unknown[] = [];
    const remove = c.onAbort((r) => calls.push(r));
    assert.deepEqual(calls, ['gone']);
    remove(); // harmless
  });
});
