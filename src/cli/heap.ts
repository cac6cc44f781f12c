// Garbage-collector settings for `serve`. V8's defaults let the heap grow far ahead of the live
// data (young generation up to 3 × 16 MB, old generation to several times what survived the last
// full GC); a gateway streaming 50,000 chunks/s allocates fast but keeps little, so its RSS
// tracked the garbage, not the streams. A smaller young generation and a heap that grows by 10 %
// per full GC kept RSS at 1000 streams ~35 % lower at the same throughput (docs/BENCHMARKS.md).
// Operators who set their own V8 heap flags (NODE_OPTIONS or node arguments) keep theirs.
import v8 from 'node:v8';

export const SERVER_HEAP_FLAGS = ['--max-semi-space-size=8', '--heap-growing-percent=10'];

export function applyServerHeapFlags(env: NodeJS.ProcessEnv = process.env, execArgv: string[] = process.execArgv): string[] {
  const own = `${env.NODE_OPTIONS ?? ''} ${execArgv.join(' ')}`;
  // Flags V8 reads when it sizes or grows the heap, so they apply from here on.
  const applied = SERVER_HEAP_FLAGS.filter((flag) => !own.includes(flag.split('=')[0]!.replace(/^--/, '')));
  for (const flag of applied) v8.setFlagsFromString(flag);
  return applied;
}
