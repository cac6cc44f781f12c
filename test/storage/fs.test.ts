// The file-system store (the default, LUMENGATE_FILES_DIR) through the gateway.
import { describe } from 'node:test';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storageSuite } from './suite.js';

describe('result files on the file system', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lumengate-files-'));
  storageSuite({
    env: async () => ({ LUMENGATE_FILES_DIR: dir }),
    holds: async (key) => existsSync(join(dir, key)),
    close: async () => rmSync(dir, { recursive: true, force: true }),
  });
});
