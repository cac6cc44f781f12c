import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../config/env.js';
import { applyServerHeapFlags, isServeCommand, missingLaunchFlags, SERVER_LAUNCH_FLAGS, SERVER_RUNTIME_HEAP_FLAGS } from './heap.js';

test('serve applies its run-time heap flag unless the operator set it in NODE_OPTIONS or node arguments', () => {
  assert.deepEqual(applyServerHeapFlags({}, []), SERVER_RUNTIME_HEAP_FLAGS);
  assert.deepEqual(applyServerHeapFlags({ NODE_OPTIONS: '--heap-growing-percent=50' }, []), []);
  assert.deepEqual(applyServerHeapFlags({}, ['--heap-growing-percent=50']), []);
  assert.equal(isServeCommand(['node', 'main.js', 'serve', '--workers', '2']), true);
  assert.equal(isServeCommand(['node', 'main.js', 'accounts', 'list']), false);
});

test('npm start passes the start-up heap flags to node', () => {
  const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8'));
  const nodeArgs = /\bnode((?: --\S+)*) dist\/src\/cli\/main\.js serve/.exec(pkg.scripts.start)?.[1]?.trim().split(' ') ?? [];
  assert.deepEqual(nodeArgs, SERVER_LAUNCH_FLAGS);
});

test('the start-up flags a process lacks, by name: a flag the operator set keeps its value', () => {
  assert.deepEqual(missingLaunchFlags({}, []), SERVER_LAUNCH_FLAGS);
  assert.deepEqual(missingLaunchFlags({}, SERVER_LAUNCH_FLAGS), []);
  assert.deepEqual(missingLaunchFlags({ NODE_OPTIONS: '--max-semi-space-size=16' }, ['--no-single-threaded-gc']), []);
  assert.deepEqual(missingLaunchFlags({}, ['--single_threaded_gc']), ['--max-semi-space-size=8']);
});
