import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyServerHeapFlags, SERVER_HEAP_FLAGS } from './heap.js';

test('serve applies its heap flags, except those the operator set in NODE_OPTIONS or node arguments', () => {
  assert.deepEqual(applyServerHeapFlags({}, []), SERVER_HEAP_FLAGS);
  assert.deepEqual(applyServerHeapFlags({ NODE_OPTIONS: '--max-semi-space-size=32' }, []), ['--heap-growing-percent=10']);
  assert.deepEqual(applyServerHeapFlags({}, ['--heap-growing-percent=50', '--max-semi-space-size=1']), []);
});
