// Another process holding SQLite's write lock. better-sqlite3 is synchronous, so SQLite's own busy
// handler (busy_timeout) would sleep inside the native call with the event loop blocked: every
// request of this process would stall. Instead busy_timeout is 0 and a statement (or a ledger
// commit) that finds the database locked is tried again from a timer, up to BUSY_LIMIT_MS; then the
// SQLITE_BUSY error stands and the HTTP layer answers 503 "database busy" (unavailable.ts).
export const BUSY_LIMIT_MS = 10_000;

/** SQLITE_BUSY and its extended codes (SQLITE_BUSY_SNAPSHOT, _RECOVERY, _TIMEOUT). */
export function isBusy(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && (code === 'SQLITE_BUSY' || code.startsWith('SQLITE_BUSY_'));
}

/** The wait before retry number `attempt` (0, 1, …): 2 ms doubling to 100 ms. */
export const busyBackoff = (attempt: number): number => Math.min(2 ** (attempt + 1), 100);

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs a synchronous SQLite call; while it fails with SQLITE_BUSY, tries again without blocking. */
export async function whenNotBusy<T>(run: () => T): Promise<T> {
  const deadline = Date.now() + BUSY_LIMIT_MS;
  for (let attempt = 0; ; attempt++) {
    try {
      return run();
    } catch (err) {
      if (!isBusy(err) || Date.now() >= deadline) throw err;
    }
    await wait(busyBackoff(attempt));
  }
}
