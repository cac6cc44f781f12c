// The benches' fake media provider: the test suite's fake Replicate (test/support/fake-replicate.ts)
// in its own process, like upstream.ts for the text fake. The parent sets the script of the next
// predictions over IPC ({ defaults }) and gets { baseUrl, pid } once listening.
import { startFakeReplicate, type ReplicateScript } from '../test/support/fake-replicate.js';

const fake = await startFakeReplicate();
// Recorded calls are for tests; a soak would only accumulate them.
setInterval(() => {
  fake.calls.length = 0;
}, 1000).unref();

process.on('message', (msg: { defaults?: ReplicateScript }) => {
  if (msg.defaults) fake.defaults = msg.defaults;
  process.send?.({ ack: true });
});
process.on('disconnect', () => void fake.close().then(() => process.exit(0)));
process.send?.({ baseUrl: fake.baseUrl });
