// The bench's wrk client (bench/wrk.ts): its Lua script and its parsing of wrk's report. No wrk
// is run here: the inputs are wrk 4.1's output, verbatim in layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseWrk, wrkScript } from '../bench/wrk.js';

const report = (extra: string) => `Running 5s test @ http://127.0.0.1:41429/api/v2/generate
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    21.34ms    9.87ms 148.20ms   87.12%
    Req/Sec     3.01k   301.22     3.50k    70.00%
  Latency Distribution
     50%  812.00us
     75%   25.01ms
     90%   31.45ms
     99%    1.20s
  15000 requests in 5.00s, 4.96MB read
${extra}Requests/sec:   3000.00
Transfer/sec:    0.99MB
`;

test('parseWrk reads req/s and the latency percentiles in any of its units', () => {
  const r = parseWrk(report(''));
  assert.equal(r.requests, 15000);
  assert.equal(r.seconds, 5);
  assert.equal(r.perSecond, 3000);
  assert.equal(r.latencyMs.p50, 0.812);
  assert.equal(r.latencyMs.p99, 1200);
  assert.equal(r.errors, 0);
  assert.equal(r.firstError, null);
});

test('parseWrk counts non-2xx responses and socket errors as errors, not as requests', () => {
  const r = parseWrk(report('  Socket errors: connect 0, read 2, write 0, timeout 3\n  Non-2xx or 3xx responses: 1000\n'));
  assert.equal(r.requests, 14000);
  assert.equal(r.perSecond, 2800);
  assert.equal(r.errors, 1005);
  assert.match(r.firstError ?? '', /1000 non-2xx responses; Socket errors: connect 0, read 2, write 0, timeout 3/);
});

test('parseWrk refuses output that is not a wrk report', () => {
  assert.throws(() => parseWrk('unable to connect to 127.0.0.1:1 Connection refused\n'), /unexpected wrk output/);
});

test("wrkScript's POST keeps the body and headers byte for byte (long brackets, no escaping)", () => {
  const body = JSON.stringify({ prompt: 'quote " backslash \\ newline \n [[x]]' });
  const lua = wrkScript({ 'content-type': 'application/json', authorization: 'Bearer k' }, body);
  assert.match(lua, /^wrk\.method = "POST"$/m);
  assert.ok(lua.includes(`wrk.body = [==[${body}]==]`));
  // `wrk.headers[[` would open a Lua long string: the key's bracket is spaced.
  assert.match(lua, /^wrk\.headers\[ \[==\[authorization\]==\] \] = \[==\[Bearer k\]==\]$/m);
});
