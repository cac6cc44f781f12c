// The bench's fake upstream, in its own process so the load client's CPU does not skew it. It is
// the test fake (test/support/fake-openai.ts): the same OpenAI streaming wire format, byte for byte.
// The parent sends the script over IPC ({ script }) and gets { origin } once listening.
import { startFakeOpenAI, type FakeScript } from '../test/support/fake-openai.js';

const fake = await startFakeOpenAI({ backlog: 4096 });
// Recorded requests are for tests; a bench would only accumulate them: counted, then let go.
let served = 0;
setInterval(() => {
  served += fake.requests.length;
  fake.requests.length = 0;
}, 1000).unref();

// { script }: answer with it from now on; { count }: how many requests have arrived so far.
process.on('message', (msg: { script?: FakeScript; count?: boolean }) => {
  if (msg.script) fake.respondWith(msg.script);
  process.send?.({ ack: true, count: served + fake.requests.length });
});
process.on('disconnect', () => void fake.close().then(() => process.exit(0)));
process.send?.({ origin: fake.origin });
