// Preloaded into a server by bench/count.ts (`node --import`): the first SIGUSR2 starts V8's
// sampling heap profiler, keeping objects the collector has already freed, so the profile sums
// every byte allocated (each sample stands for its interval); the second writes it as JSON to
// $HEAP_SAMPLE_OUT. `$HEAP_SAMPLE_OUT.started` is written once sampling runs. With $CPU_PROFILE_OUT
// set, V8's CPU profiler samples the same window every 100 µs and its profile is written there
// (for `bench:count --keep`: which JavaScript functions the counted work runs in).
// With HEAP_SAMPLE_SURVIVORS=1 the profiler drops what young-generation collections free, so the
// profile holds only objects that reached the old generation (and those still young at the end):
// where the promoted bytes are allocated (bench/NOTES.md, tenth session). A check on this VM: a
// loop of short-lived AbortControllers with a listener (Node 20 promotes them) kept ~900 bytes each
// of sampled weight, the same loop of plain objects ~1.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';

const out = process.env.HEAP_SAMPLE_OUT;
const cpuOut = process.env.CPU_PROFILE_OUT;
if (out) {
  const session = new Session();
  session.connect();
  const post = (method: string, params: object = {}) => new Promise<unknown>((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))));
  let sampling = false;
  process.on('SIGUSR2', () => {
    void (async () => {
      if (!sampling) {
        sampling = true;
        await post('HeapProfiler.enable');
        await post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: process.env.HEAP_SAMPLE_SURVIVORS !== '1' });
        if (cpuOut) {
          await post('Profiler.enable');
          await post('Profiler.setSamplingInterval', { interval: 100 });
          await post('Profiler.start');
        }
        writeFileSync(`${out}.started`, 'yes');
      } else {
        const { profile } = (await post('HeapProfiler.stopSampling')) as { profile: unknown };
        writeFileSync(out, JSON.stringify(profile));
        if (cpuOut) writeFileSync(cpuOut, JSON.stringify(((await post('Profiler.stop')) as { profile: unknown }).profile));
        sampling = false;
      }
    })();
  });
}
