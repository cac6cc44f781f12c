// Reads a server's resident memory and CPU time from /proc, summed over its cluster workers.
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** A process and its direct children (cluster workers, nginx's worker). */
export function pidsOf(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    /* not Linux or gone */
  }
  return [pid, ...children];
}

export interface ProcSample {
  rssBytes: number;
  cpuSeconds: number;
}

export function sampleProcess(pid: number): ProcSample {
  let rss = 0;
  let ticks = 0;
  for (const p of pidsOf(pid)) {
    try {
      const status = readFileSync(`/proc/${p}/status`, 'utf8');
      rss += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
      // Fields after the parenthesised command name: utime is the 12th, stime the 13th.
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      /* exited between reads */
    }
  }
  return { rssBytes: rss, cpuSeconds: ticks / CLOCK_TICKS };
}

/** Samples every `everyMs` while running; `stop()` gives peak RSS and mean CPU use (1.0 = one core). */
export function watchProcess(pid: number, everyMs = 100) {
  const first = sampleProcess(pid);
  const t0 = Date.now();
  let peak = first.rssBytes;
  const timer = setInterval(() => {
    peak = Math.max(peak, sampleProcess(pid).rssBytes);
  }, everyMs);
  return {
    stop(): { peakRssBytes: number; cpuCores: number; cpuSeconds: number } {
      clearInterval(timer);
      const last = sampleProcess(pid);
      peak = Math.max(peak, last.rssBytes);
      const cpu = last.cpuSeconds - first.cpuSeconds;
      return { peakRssBytes: peak, cpuSeconds: cpu, cpuCores: cpu / Math.max(0.001, (Date.now() - t0) / 1000) };
    },
  };
}

/** The soft limit on open files of this process ("Max open files"), or null. */
export function openFileLimit(): number | null {
  try {
    const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    return m ? (m[1] === 'unlimited' ? Infinity : Number(m[1])) : null;
  } catch {
    return null;
  }
}

/**
 * CPU pinning for the "one core" throughput figure: `taskset` sets the CPUs a process and all its
 * threads may run on (threads started later inherit it). Null when it cannot be done here
 * (no taskset, or fewer than two CPUs), and the figures are then taken unpinned.
 */
export function cpuPinning(cpuCount: number): { pin(pid: number, cpus: string, withChildren?: boolean): void; serverCpus: string; otherCpus: string; allCpus: string } | null {
  if (cpuCount < 2) return null;
  const pin = (pid: number, cpus: string, withChildren = false) => {
    // -a: every thread of the process (V8's GC helpers, libuv's pool), not only the main one; and,
    // for a server, its children (nginx's worker), which do not inherit a change made after they started.
    for (const p of withChildren ? pidsOf(pid) : [pid]) execFileSync('taskset', ['-a', '-p', '-c', cpus, String(p)], { stdio: 'ignore' });
  };
  try {
    pin(process.pid, `0-${cpuCount - 1}`);
  } catch {
    return null;
  }
  return { pin, serverCpus: '0', otherCpus: cpuCount === 2 ? '1' : `1-${cpuCount - 1}`, allCpus: `0-${cpuCount - 1}` };
}

/**
 * CPU seconds so far of every process whose name matches `name` (all of this machine's PostgreSQL
 * backends, its Redis server), by pid. The difference of two readings (storeCpuSince) is what
 * they spent in between: a pid seen only in the later reading started in between and counts whole.
 */
export function storeCpu(name: RegExp): Map<number, number> {
  const out = new Map<number, number>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!name.test(stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')))) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(pid), (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS);
    } catch {
      /* exited between reads */
    }
  }
  return out;
}

/** CPU seconds spent between two storeCpu readings (processes that exited in between are not counted). */
export function storeCpuSince(before: Map<number, number>, after: Map<number, number>): number {
  let seconds = 0;
  for (const [pid, s] of after) seconds += s - (before.get(pid) ?? 0);
  return seconds;
}
