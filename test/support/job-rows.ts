// A job's row as a test reads it once the job is over. A worker settles the generation first and
// then ends its job row (src/jobs/execute.ts; a worker that dies between the two leaves the row to
// the next claimer, which ends it), so a client can see the generation completed a moment before
// the row says `done`.
import type { Db } from '../../src/db/connect.js';
import type { Job } from '../../src/db/schema.js';
import { serverEvents, untilEvent } from './server-events.js';

/**
 * The job row of `generationId` once it has ended: read now and again each time a job's run ends or
 * a generation settles (in this process's server or a relayed child's), never after a sleep.
 */
export async function endedJob(db: Db, generationId: number): Promise<Job> {
  let last: Job | undefined;
  return untilEvent(
    [serverEvents.jobRunEnded, serverEvents.settled],
    async () => {
      last = await db.kysely.selectFrom('jobs').selectAll().where('generation_id', '=', generationId).executeTakeFirstOrThrow();
      return last.state !== 'queued' && last.state !== 'running' && last;
    },
    () => `job ${generationId} ended (it is still ${last?.state})`,
  );
}
