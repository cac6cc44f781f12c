// Webhooks (docs/api.md), the one entry point for the rest of the gateway: `admit` at request
// time, `generationEnded` when a generation ends (runGeneration, and the job runner for media
// jobs), `sweep` with the server's periodic sweep, and the delivery worker the server starts after
// listening and stops on close.
// No delivery is lost: the callback URL is stored with the generation by its hold and cleared only
// once the delivery row exists, so a generation that ended without one (the process died between
// its settlement and the queueing, the queueing failed, a crash mid-generation that the restart
// released) is queued by the next sweep. One row per generation: whichever queues first wins.
import type { Db } from '../db/connect.js';
import { badRequest } from '../core/errors.js';
import type { OperatorLog } from '../generation/lifecycle.js';
import { clearCallbackUrl, generationsOwedWebhook } from '../generation/store.js';
import { generationObject, type ResultLinks } from '../generation/object.js';
import { urlProblem, type WebhookPolicy } from './address.js';
import { webhookSecretOf } from './secret.js';
import { createSender, type Resolver } from './send.js';
import { insertDelivery } from './store.js';
import { DeliveryWorker } from './worker.js';

export interface GenerationEnded {
  generationId: number;
  accountId: number;
  /** The callback URL `admit` accepted. */
  url: string;
  /** The generation object as the API returns it: sent as the body. */
  generation: object;
}

export interface Webhooks {
  /** The callback URL to report to (undefined when none was asked for), or 400 naming callback_url. */
  admit(accountId: number, url: unknown): Promise<string | undefined>;
  /**
   * Queues the delivery (durably) and wakes the worker. Never throws: the generation is already
   * settled, and a delivery not queued here is queued by the next sweep.
   */
  generationEnded(e: GenerationEnded): Promise<void>;
}

export interface WebhookService extends Webhooks {
  /** Queues the deliveries of ended generations that have none yet; how many it queued. */
  sweep(): Promise<number>;
  worker: DeliveryWorker;
  start(): void;
  stop(): Promise<void>;
}

export interface WebhookOptions {
  policy: WebhookPolicy;
  timeoutMs: number;
  concurrency: number;
  /** One account's deliveries in flight at once, all instances together. */
  perAccount: number;
  pollMs?: number;
  log?: OperatorLog;
  /** Signs the result URLs of the bodies the sweep builds (as the job worker's, src/jobs/execute.ts). */
  links?: ResultLinks;
  /** Tests resolve names their own way. */
  resolver?: Resolver;
}

/** Owed generations the sweep reads at a time. */
const SWEEP_BATCH = 100;

const refuse = (why: string) => badRequest(`callback_url: ${why}`, { fields: [{ path: 'callback_url', message: why }] });

export function createWebhooks(db: Db, o: WebhookOptions): WebhookService {
  /**
   * The delivery row first, then the generation's callback URL cleared: a process that dies between
   * the two leaves the URL, and the sweep's queueing finds the row there and only clears it. True
   * when this call queued it.
   */
  const queue = async (e: GenerationEnded): Promise<boolean> => {
    const id = await insertDelivery(db, { generationId: e.generationId, accountId: e.accountId, url: e.url, body: JSON.stringify(e.generation) }, new Date());
    await clearCallbackUrl(db, e.generationId);
    return id !== undefined;
  };
  const sender = createSender(o.policy, { timeoutMs: o.timeoutMs, resolver: o.resolver });
  // The lease outlives the longest attempt (connect, headers and body each bounded by the timeout).
  const worker = new DeliveryWorker({ db, sender, concurrency: o.concurrency, perAccount: o.perAccount, pollMs: o.pollMs ?? 2000, leaseMs: 3 * o.timeoutMs + 30_000, log: o.log });
  return {
    worker,
    async admit(accountId, url) {
      if (url === undefined || url === null) return undefined;
      if (typeof url !== 'string') throw refuse('must be a string');
      const problem = urlProblem(url, o.policy);
      if (problem) throw refuse(problem);
      if (!(await webhookSecretOf(db, accountId))) throw refuse('this account has no webhook secret yet: create one with POST /api/v2/user/webhook-secret');
      return url;
    },
    async generationEnded(e) {
      try {
        await queue(e);
        worker.wake();
      } catch (err) {
        o.log?.error({ err, generation_id: e.generationId }, 'webhook delivery not queued: the next sweep queues it');
      }
    },
    async sweep() {
      let queued = 0;
      let after = 0;
      for (;;) {
        const owed = await generationsOwedWebhook(db, after, SWEEP_BATCH);
        for (const { generation: g, balance } of owed) {
          // The body as the generation's own end would have sent it: a media job's carries no balance (reportEnded).
          const generation = generationObject(g, g.category === 'text' ? balance : null, o.links);
          try {
            if (await queue({ generationId: g.id, accountId: g.account_id, url: g.callback_url!, generation })) queued++;
          } catch (err) {
            // Left owed: the next sweep tries again.
            o.log?.error({ err, generation_id: g.id }, 'webhook delivery not queued: the next sweep queues it');
          }
        }
        if (owed.length < SWEEP_BATCH) break;
        after = owed.at(-1)!.generation.id;
      }
      if (queued > 0) worker.wake();
      return queued;
    },
    start: () => worker.start(),
    async stop() {
      await worker.stop();
      await sender.close();
    },
  };
}

/** For a caller without webhooks wired in (no callback_url can be honoured): refuses one by name. */
export async function admitCallbackUrl(webhooks: Webhooks | undefined, accountId: number, url: unknown): Promise<string | undefined> {
  if (url === undefined || url === null) return undefined;
  if (!webhooks) throw refuse('webhooks are not enabled on this gateway');
  return webhooks.admit(accountId, url);
}
