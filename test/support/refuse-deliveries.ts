// A write that fails, for the tests of webhooks that are never lost: the database itself refuses
// every new row of webhook_deliveries (a trigger) until the test lifts it, so the server's own
// statement meets a real error at the moment it queues a delivery, with no hook in the server.
// Works on a server in this process or a `lumengate serve` child on the same database.
import { sql } from 'kysely';
import type { Db } from '../../src/db/connect.js';

export interface Refusal {
  /** Drops the trigger: the next queueing succeeds. */
  lift(): Promise<void>;
}

export async function refuseDeliveries(db: Db): Promise<Refusal> {
  if (db.dialect === 'postgres') {
    await sql`create function lumengate_test_refuse() returns trigger language plpgsql as $$
      begin raise exception 'injected: webhook_deliveries refuses new rows'; end $$`.execute(db.kysely);
    await sql`create trigger lumengate_test_refuse before insert on webhook_deliveries for each row execute function lumengate_test_refuse()`.execute(db.kysely);
    return {
      async lift() {
        await sql`drop trigger lumengate_test_refuse on webhook_deliveries`.execute(db.kysely);
        await sql`drop function lumengate_test_refuse()`.execute(db.kysely);
      },
    };
  }
  await sql`create trigger lumengate_test_refuse before insert on webhook_deliveries
    begin select raise(abort, 'injected: webhook_deliveries refuses new rows'); end`.execute(db.kysely);
  return {
    async lift() {
      await sql`drop trigger lumengate_test_refuse`.execute(db.kysely);
    },
  };
}
