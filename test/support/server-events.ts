// Waiting on the server's own events instead of looking again after a sleep. The server publishes
// milestones on node:diagnostics_channel (src/core/trace.ts: a settlement committed, a job's run
// ended, a webhook attempt stored, a local sequence freed or queued), free when nobody subscribes.
// A test whose server runs in its own process subscribes to them directly; the `lumengate serve`
// children of test/support/instances.ts load channel-relay.ts, which sends the same messages back
// over a pipe, and they are published again here: one wait serves both.
import { channel, subscribe, unsubscribe } from 'node:diagnostics_channel';
import { jobRunEndedChannel, sequencesChannel, settledChannel, webhookAttemptChannel } from '../../src/core/trace.js';

export const serverEvents = {
  /** A settlement was committed: `{ generationId, status, applied }`. */
  settled: String(settledChannel.name),
  /** A job's run ended (its row ended or requeued), or it was cancelled: `{ generationId }`. */
  jobRunEnded: String(jobRunEndedChannel.name),
  /** A webhook delivery attempt's outcome was stored: `{ deliveryId, generationId }`. */
  webhookAttempted: String(webhookAttemptChannel.name),
  /** A local model's sequence pool changed: `{ available, queued }`. */
  sequences: String(sequencesChannel.name),
} as const;

/** The channels a child instance relays to the test process (channel-relay.ts). */
export const RELAYED_CHANNELS: readonly string[] = Object.values(serverEvents);

/** Publishes a message relayed from a child instance on this process's channel of the same name. */
export function republish(line: string): void {
  let event: { channel?: unknown; message?: unknown };
  try {
    event = JSON.parse(line);
  } catch {
    return;
  }
  if (typeof event.channel === 'string' && RELAYED_CHANNELS.includes(event.channel)) channel(event.channel).publish(event.message);
}

/**
 * Resolves with the first answer of `look()` that is neither undefined nor false. It looks now and
 * again after each message on the channels `on` (one look at a time; messages during a look make
 * one more look after it), so nothing published between two looks is missed: the subscription is in
 * place before the first. Rejects when a look throws, or after `capMs` without an answer: the cap
 * only turns a hang into a failure that says what did not happen (`what`, or what it returns then),
 * and is far past any real wait.
 */
export function untilEvent<T>(on: readonly string[], look: () => T | false | undefined | Promise<T | false | undefined>, what: string | (() => string), capMs = 120_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let looking = false;
    let again = false;
    let over = false;
    const onMessage = () => {
      if (looking) again = true;
      else void run();
    };
    const finish = (err: Error | undefined, value?: T) => {
      if (over) return;
      over = true;
      clearTimeout(cap);
      for (const name of on) unsubscribe(name, onMessage);
      if (err) reject(err);
      else resolve(value as T);
    };
    const run = async () => {
      looking = true;
      try {
        do {
          again = false;
          const answer = await look();
          if (answer !== undefined && answer !== false) return finish(undefined, answer);
        } while (again && !over);
      } catch (err) {
        finish(err as Error);
      } finally {
        looking = false;
      }
    };
    for (const name of on) subscribe(name, onMessage);
    const cap = setTimeout(() => finish(new Error(`${typeof what === 'function' ? what() : what}: did not happen within ${capMs / 1000} s`)), capMs);
    void run();
  });
}
