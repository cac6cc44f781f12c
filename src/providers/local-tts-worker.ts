// Runs eSpeak NG (the espeak-ng package: its CLI compiled to WASM) in a worker thread: each call
// instantiates an 18 MB module and synthesizes synchronously for up to a second, which must not
// block the gateway's event loop. The module is compiled once; each job gets a fresh instance
// (the CLI's main() runs once per instance) with the text passed as a file, never as an argument.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { parentPort } from 'node:worker_threads';

export interface SpeakJob {
  id: number;
  text: string;
  voice: string;
  wordsPerMinute: number;
}
export type SpeakAnswer = { id: number; wav: Uint8Array } | { id: number; error: string };

const require = createRequire(import.meta.url);
const entry = require.resolve('espeak-ng');
const compiled = WebAssembly.compile(readFileSync(entry.replace(/\.js$/, '.wasm')));

async function speak(job: SpeakJob): Promise<Uint8Array> {
  // By resolved path: the package ships no type declarations.
  const { default: ESpeakNg } = (await import(pathToFileURL(entry).href)) as { default: (m: Record<string, unknown>) => Promise<{ FS: { readFile(p: string): Uint8Array } }> };
  const wasm = await compiled;
  const errors: string[] = [];
  const instance = await ESpeakNg({
    arguments: ['-v', job.voice, '-s', String(job.wordsPerMinute), '-w', '/out.wav', '-f', '/in.txt'],
    preRun: [(m: { FS: { writeFile(p: string, d: string): void } }) => m.FS.writeFile('/in.txt', job.text)],
    instantiateWasm(imports: WebAssembly.Imports, ok: (i: WebAssembly.Instance) => void) {
      void WebAssembly.instantiate(wasm, imports).then(ok);
      return {};
    },
    print: () => undefined,
    printErr: (line: string) => void errors.push(line),
  });
  try {
    return instance.FS.readFile('/out.wav');
  } catch {
    throw new Error(`espeak-ng wrote no audio${errors.length ? `: ${errors.join(' ').slice(0, 200)}` : ''}`);
  }
}

parentPort!.on('message', (job: SpeakJob) => {
  speak(job).then(
    (wav) => parentPort!.postMessage({ id: job.id, wav } satisfies SpeakAnswer, [wav.buffer as ArrayBuffer]),
    (err: unknown) => parentPort!.postMessage({ id: job.id, error: err instanceof Error ? err.message : String(err) } satisfies SpeakAnswer),
  );
});
