// Loaded into the `lumengate serve` children of test/support/instances.ts (`node --import`): sends
// the server's events (src/core/trace.ts, the channels of server-events.ts) to the test process as
// JSON lines on file descriptor 3, a pipe the test reads and publishes again on its own channels.
// Only tests load it; the server itself never writes to fd 3.
import { subscribe } from 'node:diagnostics_channel';
import { Socket } from 'node:net';
import { RELAYED_CHANNELS } from './server-events.js';

// Only where instances.ts opened that pipe and says so: `npm test` also runs every module under
// test/ as a test file of its own (test/run-all.mjs), and there fd 3 is none of ours.
const fd = Number(process.env.LUMENGATE_TEST_RELAY_FD);
if (fd === 3) {
  const out = new Socket({ fd, readable: false, writable: true });
  out.unref(); // never what keeps the server running
  out.on('error', () => {}); // the test process went away: nothing to tell
  for (const name of RELAYED_CHANNELS) subscribe(name, (message) => out.write(`${JSON.stringify({ channel: name, message })}\n`));
}
