#!/usr/bin/env node
// Runs the compiled CLI (npm run build first; `npm start` does it for you). A plain `node` shebang:
// `env -S` (to pass node flags) is missing from busybox, e.g. Alpine images.
import { existsSync } from 'node:fs';

// A fresh clone has no dist/: one line saying what to do, not an ERR_MODULE_NOT_FOUND stack trace.
const main = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('lumengate: not built yet: run `npm run build` first (`npm start` builds and serves)\n');
  process.exit(1);
}
await import(main.href);
