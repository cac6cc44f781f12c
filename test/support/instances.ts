// Real `lumengate serve` processes for multi-instance, crash and outage tests. Each child logs
// JSON (pino) to stdout; the "lumengate listening" line gives its URL. Each also loads
// channel-relay.ts, which sends its server events back on fd 3: they are published again in the
// test process, where untilEvent (server-events.ts) waits on them as on an in-process server's.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createInterface } from 'node:readline';
import { packageRoot } from '../../src/config/env.js';
import { republish } from './server-events.js';

export interface Instance {
  url: string;
  child: ChildProcess;
  /** Every log line so far (parsed JSON). */
  logs: any[];
  /** SIGKILL: no shutdown code runs. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

export const cliPath = (): string => join(packageRoot(), 'dist', 'src', 'cli', 'main.js');
const relay = pathToFileURL(join(fileURLToPath(new URL('.', import.meta.url)), 'channel-relay.js')).href;

export async function startInstance(env: Record<string, string>): Promise<Instance> {
  const child = spawn(process.execPath, ['--import', relay, cliPath(), 'serve'], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'info', LUMENGATE_TEST_RELAY_FD: '3', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
  });
  createInterface({ input: child.stdio[3] as Readable }).on('line', republish);
  const logs: any[] = [];
  let stderr = '';
  child.stderr!.on('data', (b) => {
    stderr += b;
  });
  const url = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: any;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      logs.push(entry);
      if (entry.msg === 'lumengate listening') resolve(entry.url);
    });
    child.once('exit', (code) => reject(new Error(`lumengate serve exited with ${code} before listening: ${stderr}`)));
  });
  const exited = once(child, 'exit');
  const end = async (signal: NodeJS.Signals) => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return { url, child, logs, kill: () => end('SIGKILL'), stop: () => end('SIGTERM') };
}

/** Runs the CLI once (e.g. `keys revoke 3`) and returns its stdout. */
export async function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(process.execPath, [cliPath(), ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  child.stdout.on('data', (b) => {
    stdout += b;
  });
  const [code] = await once(child, 'exit');
  return { code, stdout };
}
