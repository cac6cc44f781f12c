// Garbage-collector settings for `serve`. V8's defaults let the heap grow far ahead of the live
// data; a gateway streaming 50,000 chunks/s allocates fast but keeps little, so its RSS tracked
// the garbage, not the streams (docs/deploy.md "Memory", docs/BENCHMARKS.md).
// - Old generation: grow by 10 % per full GC. V8 reads this when it recomputes its limits, so
//   setting it here, at run time, takes effect.
// - Young generation: at most 8 MB per semi-space. V8 sizes this at start-up only, so it is a
//   launch flag (`npm start`, SERVER_LAUNCH_FLAGS; elsewhere NODE_OPTIONS); setting it here would
//   do nothing.
// - The collector on the main thread (`--single-threaded-gc`): in some runs at 1000 open streams
//   V8's helper threads (concurrent marking, parallel scavenges) cost more CPU than the work they
//   took off the main thread, up to a quarter of the server's CPU per event; in others the flag
//   changed nothing, and never measurably cost more (docs/deploy.md "Memory"). A launch flag too,
//   and one NODE_OPTIONS refuses (set at run time it crashes V8), so only node's own arguments
//   carry it; `serve --workers` hands the launch flags to its workers (cluster.ts).
// Operators who set their own V8 heap flags (NODE_OPTIONS or node arguments) keep theirs.
import v8 from 'node:v8';

export const SERVER_RUNTIME_HEAP_FLAGS = ['--heap-growing-percent=10'];
/** Node arguments `npm start` passes; kept here so the bench starts the server the same way. */
export const SERVER_LAUNCH_FLAGS = ['--max-semi-space-size=8', '--single-threaded-gc'];

/**
 * Those of `flags` the operator did not set, by name (`_` read as `-`, as V8 does; `--no-x` is a
 * setting of `--x` too), in NODE_OPTIONS or node's arguments: an operator's own value wins.
 */
function notSetByOperator(flags: string[], env: NodeJS.ProcessEnv, execArgv: string[]): string[] {
  const own = `${env.NODE_OPTIONS ?? ''} ${execArgv.join(' ')}`.replaceAll('_', '-');
  return flags.filter((flag) => !own.includes(flag.split('=')[0]!.replace(/^--/, '')));
}

/** The launch flags this process was started without. */
export function missingLaunchFlags(env: NodeJS.ProcessEnv = process.env, execArgv: string[] = process.execArgv): string[] {
  return notSetByOperator(SERVER_LAUNCH_FLAGS, env, execArgv);
}

/** `lumengate serve …`: decided from argv because this must run before the other modules load. */
export function isServeCommand(argv: string[] = process.argv): boolean {
  return argv[2] === 'serve';
}

export function applyServerHeapFlags(env: NodeJS.ProcessEnv = process.env, execArgv: string[] = process.execArgv): string[] {
  const applied = notSetByOperator(SERVER_RUNTIME_HEAP_FLAGS, env, execArgv);
  for (const flag of applied) v8.setFlagsFromString(flag);
  return applied;
}

// Imported first by cli/main.ts, before the module-loading burst of allocation.
if (isServeCommand()) applyServerHeapFlags();
