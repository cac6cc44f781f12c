// Summarises V8 .cpuprofile files (node --cpu-prof): self time by package and by function, so
// the report can say where the server's CPU goes.
import { readFileSync } from 'node:fs';

interface CpuProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
}

export interface ProfileSummary {
  /** Profiled wall time in seconds, summed over files (processes). */
  seconds: number;
  /** Share of busy samples (idle excluded), by package or area. */
  byPackage: Array<{ name: string; percent: number }>;
  /** Top functions by self time, share of busy samples. */
  byFunction: Array<{ name: string; where: string; percent: number }>;
  idlePercent: number;
}

function packageOf(frame: CpuProfileNode['callFrame']): string {
  const { url, functionName } = frame;
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const nm = url.lastIndexOf('/node_modules/');
  if (nm !== -1) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  if (url.includes('/dist/src/')) return 'lumengate';
  return url;
}

function shortWhere(url: string, line: number): string {
  const nm = url.lastIndexOf('/node_modules/');
  const tail = nm !== -1 ? url.slice(nm + 14) : url.includes('/dist/') ? url.slice(url.indexOf('/dist/') + 6) : url;
  return tail ? `${tail}:${line + 1}` : '';
}

export function summariseProfiles(files: string[]): ProfileSummary {
  const byPackage = new Map<string, number>();
  const byFunction = new Map<string, { name: string; where: string; hits: number }>();
  let idle = 0;
  let busy = 0;
  let micros = 0;
  for (const file of files.filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    micros += profile.endTime - profile.startTime;
    for (const node of profile.nodes) {
      const hits = node.hitCount ?? 0;
      if (hits === 0) continue;
      if (node.callFrame.functionName === '(idle)') {
        idle += hits;
        continue;
      }
      busy += hits;
      const pkg = packageOf(node.callFrame);
      byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + hits);
      const where = shortWhere(node.callFrame.url, node.callFrame.lineNumber);
      const key = `${node.callFrame.functionName}@${where}`;
      const f = byFunction.get(key) ?? { name: node.callFrame.functionName || '(anonymous)', where, hits: 0 };
      f.hits += hits;
      byFunction.set(key, f);
    }
  }
  const pct = (n: number) => (busy ? (100 * n) / busy : 0);
  return {
    seconds: micros / 1e6,
    idlePercent: idle + busy ? (100 * idle) / (idle + busy) : 0,
    byPackage: [...byPackage]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 15)
      .map(([name, n]) => ({ name, percent: pct(n) })),
    byFunction: [...byFunction.values()]
      .sort((a, b) => b.hits - a.hits)
      .slice(0, 20)
      .map((f) => ({ name: f.name, where: f.where, percent: pct(f.hits) })),
  };
}

// `node dist/bench/profile.js <files...>`: print a summary of existing profiles.
if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  process.stdout.write(`${JSON.stringify(summariseProfiles(process.argv.slice(2)), null, 2)}\n`);
}
