// One node-llama-cpp backend per thread count, shared by every local provider in the process:
// getLlama() tests the native binary in a child process first (seconds on a busy 2-core box), and
// one backend per process is what llama.cpp expects anyway. It lives as long as the process (it
// does not keep the process alive); providers dispose only their own models and contexts.
import { getLlama, LlamaLogLevel, type Llama } from 'node-llama-cpp';

const shared = new Map<number, Promise<Llama>>();
const errorListeners = new Set<(line: string) => void>();

export function sharedLlama(threads: number): Promise<Llama> {
  let llama = shared.get(threads);
  if (!llama) {
    llama = getLlama({
      gpu: false,
      build: 'never',
      maxThreads: threads,
      logLevel: LlamaLogLevel.warn,
      logger(level, message) {
        const line = message.trim();
        if (level === LlamaLogLevel.error || level === LlamaLogLevel.fatal) for (const l of errorListeners) l(line);
        if (line) console.warn(`[llama.cpp] ${line}`);
      },
    });
    shared.set(threads, llama);
    llama.catch(() => shared.delete(threads)); // a failed start is retried by the next caller
  }
  return llama;
}

/** Runs `fn` while collecting llama.cpp's error log lines, which carry the real reason a load failed. */
export async function withLlamaErrors<T>(fn: () => Promise<T>): Promise<{ result?: T; error?: unknown; lines: string[] }> {
  const lines: string[] = [];
  const listener = (line: string) => lines.push(line);
  errorListeners.add(listener);
  try {
    return { result: await fn(), lines };
  } catch (error) {
    return { error, lines };
  } finally {
    errorListeners.delete(listener);
  }
}
