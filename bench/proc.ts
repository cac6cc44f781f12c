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

/** A process's name and CPU clock ticks so far (user + system), from /proc/<pid>/stat. */
function readStat(pid: number | string): { name: string; ticks: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name: utime is the 12th, stime the 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), ticks: Number(fields[11]) + Number(fields[12]) };
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
      ticks += readStat(p).ticks;
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
 * CPU seconds so far of the machine's processes whose names match one of `names` (every PostgreSQL
 * backend, the Redis server), by pid, in one pass over /proc. The difference of two readings
 * (storeCpuSince) is what they spent in between.
 */
export function storeCpu(names: Record<string, RegExp>): Map<number, { store: string; seconds: number }> {
  const out = new Map<number, { store: string; seconds: number }>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      const { name, ticks } = readStat(pid);
      const store = Object.keys(names).find((k) => names[k]!.test(name));
      if (store) out.set(Number(pid), { store, seconds: ticks / CLOCK_TICKS });
    } catch {
      /* exited between reads */
    }
  }
  return out;
}

/**
 * CPU seconds each store spent between two storeCpu readings: a pid seen only in the later reading
 * started in between and counts whole; one that exited in between is not counted.
 */
export function storeCpuSince(before: ReturnType<typeof storeCpu>, after: ReturnType<typeof storeCpu>): Record<string, number> {
  const spent: Record<string, number> = {};
  for (const [pid, { store, seconds }] of after) spent[store] = (spent[store] ?? 0) + seconds - (before.get(pid)?.seconds ?? 0);
  return spent;
}
