#!/usr/bin/env node
// Runs the compiled CLI (npm run build first; `npm start` does it for you). A plain `node` shebang:
// `env -S` (to pass node flags) is missing from busybox, e.g. Alpine images.
import '../dist/src/cli/main.js';
