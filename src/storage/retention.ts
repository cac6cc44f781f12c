// Retention (docs/api.md): a plan keeps result files retention_days (null = for ever). The sweeper
// deletes older files (outputs and a job's input file); the generation stays, marked result_json.files_expired_at, so it reads
// result_url: null and result_metadata.expired_at. A deleted generation's files go at the next pass.
import type { Catalog, PlanName } from '../config/catalog.js';
import type { Db } from '../db/connect.js';
import { generationsWithFilesDue, mergeResultJson } from '../generation/store.js';
import { resultFilesOf, type FileStore } from './files.js';

const DAY_MS = 24 * 3600 * 1000;
// Rows per query: a large backlog is worked through in bounded steps.
const BATCH = 200;

/** Deletes the files past their plan's retention as of `now`; resolves with the generations expired. */
export async function sweepExpiredFiles(db: Db, store: FileStore, catalog: Pick<Catalog, 'plans'>, now: Date = new Date()): Promise<number> {
  let expired = 0;
  const due: Parameters<typeof generationsWithFilesDue>[1][] = [{ deleted: true, limit: BATCH }];
  for (const [plan, entry] of Object.entries(catalog.plans) as [PlanName, { retention_days: number | null }][]) {
    if (entry.retention_days !== null) due.push({ plan, before: new Date(now.getTime() - entry.retention_days * DAY_MS).toISOString(), limit: BATCH });
  }
  for (const filter of due) {
    for (;;) {
      const rows = await generationsWithFilesDue(db, filter);
      for (const row of rows) {
        // Files first, then the mark: a failure in between deletes again next time (delete is idempotent).
        const { files, input } = resultFilesOf(row.result_json);
        for (const f of [...(files ?? []), ...(input ? [input] : [])]) await store.delete(f.key);
        await mergeResultJson(db, row.id, { files_expired_at: now.toISOString() });
      }
      expired += rows.length;
      if (rows.length < BATCH) break;
    }
  }
  return expired;
}
