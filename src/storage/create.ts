// Picks the store the operator configured (docs/api.md). The S3 client is loaded only when used.
import type { Settings } from '../config/env.js';
import { fileSystemStore, type FileStore } from './files.js';

export async function createFileStore(settings: Pick<Settings, 'storageUrl' | 'filesDir' | 'env'>): Promise<FileStore> {
  if (!settings.storageUrl) return fileSystemStore(settings.filesDir);
  const { s3Store } = await import('./s3.js');
  return s3Store(settings.storageUrl, settings.env);
}
