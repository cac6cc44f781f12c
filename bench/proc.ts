// Reads a server's resident memory and CPU time from /proc, summed over its cluster workers.
import { readFileSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux

function pidsOf(pid: number): number[] {
  let children: number[] = [];
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { /* not Linux or gone */ }
  return [pid, ...children];
}

export interface ProcSample { rssBytes: number; cpuSeconds: number }

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
    } catch { /* exited between reads */ }
  }
  return { rssBytes: rss, cpuSeconds: ticks / CLOCK_TICKS };
}

/** Samples every `everyMs` while running; `stop()` gives peak RSS and mean CPU use (1.0 = one core). */
export function watchProcess(pid: number, everyMs = 100) {
  const first = sampleProcess(pid);
  const t0 = Date.now();
  let peak = first.rssBytes;
  const timer = setInterval(() => { peak = Math.max(peak, sampleProcess(pid).rssBytes); }, everyMs);
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
  } catch { return null; }
}
