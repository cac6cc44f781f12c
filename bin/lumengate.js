#!/usr/bin/env node
// Runs the compiled CLI (npm run build first; `npm start` does it for you).
import '../dist/src/cli/main.js';
