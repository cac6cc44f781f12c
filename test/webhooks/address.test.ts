// The SSRF guard's address classification and request-time URL checks (docs/api.md).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isPublicAddress, urlProblem } from '../../src/webhooks/address.js';
import { nextAttemptAt, RETRY_WINDOW_MS } from '../../src/webhooks/worker.js';

describe('webhook address policy', () => {
  it('refuses loopback, private, link-local, unique-local, CGNAT, multicast, unspecified and mapped forms; allows public', () => {
    for (const a of [
      '127.0.0.1',
      '127.8.9.1',
      '10.1.2.3',
      '172.16.0.1',
      '172.31.255.255',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '224.0.0.1',
      '255.255.255.255',
      '::',
      '::1',
      'fe80::1',
      'fe80::1%eth0',
      'fc00::1',
      'fd12:3456::1',
      'ff02::1',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:169.254.169.254',
      '0:0:0:0:0:ffff:a00:1',
      '::127.0.0.1',
      '64:ff9b::7f00:1',
      'not-an-ip',
    ]) {
      assert.equal(isPublicAddress(a), false, a);
    }
    for (const a of ['93.184.216.34', '8.8.8.8', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) assert.equal(isPublicAddress(a), true, a);
  });

  it('request time: https on a public host by default; the operator allows http and private hosts by name or for all', () => {
    const strict = { allowPrivate: false, allowHosts: new Set<string>() };
    assert.equal(urlProblem('https://hooks.example.com/x', strict), null);
    assert.match(urlProblem('http://hooks.example.com/x', strict)!, /https/);
    assert.match(urlProblem('https://127.0.0.1/x', strict)!, /public address/);
    assert.match(urlProblem('https://[::ffff:127.0.0.1]/x', strict)!, /public address/);
    assert.match(urlProblem('https://2130706433/x', strict)!, /public address/);
    assert.match(urlProblem('ftp://example.com/x', strict)!, /https/);
    assert.match(urlProblem('https://user:pw@example.com/x', strict)!, /credentials/);
    assert.match(urlProblem('not a url', strict)!, /valid/);
    const named = { allowPrivate: false, allowHosts: new Set(['127.0.0.1']) };
    assert.equal(urlProblem('http://127.0.0.1:9/x', named), null);
    assert.match(urlProblem('http://10.0.0.1/x', named)!, /https/);
    assert.equal(urlProblem('http://10.0.0.1/x', { allowPrivate: true, allowHosts: new Set() }), null);
  });

  it('backoff: 10 s, 1 min, 5 min, …, a last attempt at 24 h after the first, then none', () => {
    const first = new Date('2030-01-01T00:00:00Z');
    assert.equal(nextAttemptAt(1, first, first)!.getTime() - first.getTime(), 10_000);
    assert.equal(nextAttemptAt(2, first, first)!.getTime() - first.getTime(), 60_000);
    assert.equal(nextAttemptAt(3, first, first)!.getTime() - first.getTime(), 300_000);
    const late = new Date(first.getTime() + RETRY_WINDOW_MS - 1000);
    assert.equal(nextAttemptAt(9, first, late)!.getTime(), first.getTime() + RETRY_WINDOW_MS);
    assert.equal(nextAttemptAt(10, first, new Date(first.getTime() + RETRY_WINDOW_MS)), null);
  });
});
