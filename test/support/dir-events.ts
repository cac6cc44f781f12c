// Waiting on a directory's own events: fs.watch reports each file created, written or removed in
// it, and the condition is checked again at each, so a test waits for the thing itself (a temp file
// appearing, growing, going) instead of sleeping between looks.
import { watch } from 'node:fs';

/** Resolves once `cond()` holds, checked now and after each change in `dir`; rejects after 60 s without (a hang becomes a failure). */
export function dirUntil(dir: string, cond: () => boolean, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    // The watch is in place before the first check, so no change between the two is missed.
    const watcher = watch(dir);
    const cap = setTimeout(() => done(new Error(`${dir}: ${what} did not happen within 60 s`)), 60_000);
    const done = (err?: Error) => {
      clearTimeout(cap);
      watcher.close();
      if (err) reject(err);
      else resolve();
    };
    const check = () => {
      try {
        if (cond()) done();
      } catch (err) {
        done(err as Error);
      }
    };
    watcher.on('change', check);
    watcher.on('error', done);
    check();
  });
}
