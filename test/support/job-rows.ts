// A job's row as a test reads it once the job is over. A worker settles the generation first and
// then ends its job row (src/jobs/execute.ts; a worker that dies between the two leaves the row to
// the next claimer, which ends it), so a client can see the generation completed a moment before
// the row says `done`.
import type { Db } from '../../src/db/connect.js';
import type { Job } from '../../src/db/schema.js';

/** The job row of `generationId` once it has ended; polls (bounded: a hang becomes a failure). */
export async function endedJob(db: Db, generationId: number): Promise<Job> {
  for (let i = 0; ; i++) {
    const row = await db.kysely.selectFrom('jobs').selectAll().where('generation_id', '=', generationId).executeTakeFirstOrThrow();
    if (row.state !== 'queued' && row.state !== 'running') return row;
    if (i >= 500) throw new Error(`job ${generationId} is still ${row.state}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
