#!/usr/bin/env -S node --max-semi-space-size=8
// Runs the compiled CLI (npm run build first; `npm start` does it for you). The node flag is the
// young-generation cap of `serve` (src/cli/heap.ts); env -S splits it from `node`.
import '../dist/src/cli/main.js';
