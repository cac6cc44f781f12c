import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../config/env.js';
import { applyServerHeapFlags, isServeCommand, SERVER_LAUNCH_FLAGS, SERVER_RUNTIME_HEAP_FLAGS } from './heap.js';

test('serve applies its run-time heap flag unless the operator set it in NODE_OPTIONS or node arguments', () => {
  assert.deepEqual(applyServerHeapFlags({}, []), SERVER_RUNTIME_HEAP_FLAGS);
  assert.deepEqual(applyServerHeapFlags({ NODE_OPTIONS: '--heap-growing-percent=50' }, []), []);
  assert.deepEqual(applyServerHeapFlags({}, ['--heap-growing-percent=50']), []);
  assert.equal(isServeCommand(['node', 'main.js', 'serve', '--workers', '2']), true);
  assert.equal(isServeCommand(['node', 'main.js', 'accounts', 'list']), false);
});

test('npm start passes the start-up heap flags', () => {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8'));
  for (const flag of SERVER_LAUNCH_FLAGS) assert.ok(pkg.scripts.start.includes(`node ${flag}`), `npm start passes ${flag}`);
});
