// Marked sections of docs/BENCHMARKS.md that a bench command maintains on its own
// (`<!-- name:start -->…<!-- name:end -->`): replaced in place when present, appended otherwise,
// the rest of the file kept as it is.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, release, totalmem, type } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../src/config/env.js';

export function writeSection(path: string, name: string, body: string): void {
  const section = `<!-- ${name}:start -->\n${body.trim()}\n<!-- ${name}:end -->\n`;
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmarks\n';
  const marked = new RegExp(`<!-- ${name}:start -->[\\s\\S]*?<!-- ${name}:end -->\\n?`);
  // A function replacement: the section's text may contain `$` patterns.
  writeFileSync(path, marked.test(current) ? current.replace(marked, () => section) : `${current.trimEnd()}\n\n${section}`);
}

function version(pkg: string): string {
  try {
    return JSON.parse(readFileSync(join(packageRoot(), 'node_modules', pkg, 'package.json'), 'utf8')).version;
  } catch {
    return '?';
  }
}

/** "Machine and versions" lines for a section. */
export function machineLines(extra = ''): string[] {
  const cpu = cpus();
  const own = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')).version;
  return [
    `- ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, ${type()} ${release()}`,
    `- Node ${process.version}; lumengate ${own}, fastify ${version('fastify')}, undici ${version('undici')}, better-sqlite3 ${version('better-sqlite3')}, pg ${version('pg')}, ioredis ${version('ioredis')}${extra}`,
  ];
}

export const fmtMs = (x: number) => (Number.isFinite(x) ? x.toFixed(Math.abs(x) < 10 ? 2 : 1) : '–');
export const fmtMicros = (x: number) => (Number.isFinite(x) ? `${x.toFixed(0)} µs` : '–');
export const fmtRate = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');

/**
 * `report` followed by every marked section the file at `path` has now (local-model, paths, soak, …):
 * for a command that rewrites the whole file (`npm run bench`) and must keep the others' sections.
 */
export function withMarkedSections(report: string, path: string): string {
  const previous = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const sections = previous.match(/<!-- ([\w-]+):start -->[\s\S]*?<!-- \1:end -->\n?/g) ?? [];
  return [report, ...sections.filter((s) => !report.includes(s.slice(0, s.indexOf('-->') + 3)))].join('\n');
}
