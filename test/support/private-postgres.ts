// A throw-away PostgreSQL server of its own (initdb + pg_ctl in a temp dir, on a free port) that a
// test may stop and start without disturbing the shared server. Run as the `postgres` user when
// the test runs as root (PostgreSQL refuses to run as root).
import { execFileSync } from 'node:child_process';
import { chownSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface PrivatePostgres {
  url: string;
  stop(): void;
  start(): void;
  destroy(): void;
}

const bin = (name: string): string => {
  const versions = readdirSync('/usr/lib/postgresql').sort((x, y) => Number(y) - Number(x));
  return join('/usr/lib/postgresql', versions[0]!, 'bin', name);
};

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'lumengate-pg-'));
  const asRoot = userInfo().uid === 0;
  if (asRoot) {
    const id = (k: string) => Number(execFileSync('id', [k, 'postgres']).toString().trim());
    chownSync(dir, id('-u'), id('-g'));
  }
  const run = (cmd: string, args: string[]) => execFileSync(asRoot ? 'runuser' : cmd, asRoot ? ['-u', 'postgres', '--', cmd, ...args] : args, { stdio: 'pipe' });
  const data = join(dir, 'data');
  const port = await freePort();
  run(bin('initdb'), ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const ctl = (...args: string[]) => run(bin('pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '300', ...args]);
  const start = () => ctl('-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start');
  start();
  let destroyed = false;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start,
    // fast: active connections are terminated, as in a real restart.
    stop: () => ctl('-m', 'fast', 'stop'),
    destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        ctl('-m', 'immediate', 'stop');
      } catch {
        /* already stopped */
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
