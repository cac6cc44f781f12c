// Webhooks (docs/api.md), the one entry point for the rest of the gateway: `admit` at request
// time, `generationEnded` when a generation ends (runGeneration, and the job runner for media
// jobs), and the delivery worker the server starts after listening and stops on close.
import type { Db } from '../db/connect.js';
import { badRequest } from '../core/errors.js';
import type { OperatorLog } from '../generation/lifecycle.js';
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
  /** Queues the delivery (durably) and wakes the worker. Never throws: the generation is already settled. */
  generationEnded(e: GenerationEnded): Promise<void>;
}

export interface WebhookService extends Webhooks {
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
  /** Tests resolve names their own way. */
  resolver?: Resolver;
}

const refuse = (why: string) => badRequest(`callback_url: ${why}`, { fields: [{ path: 'callback_url', message: why }] });

export function createWebhooks(db: Db, o: WebhookOptions): WebhookService {
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
        await insertDelivery(db, { generationId: e.generationId, accountId: e.accountId, url: e.url, body: JSON.stringify(e.generation) }, new Date());
        worker.wake();
      } catch (err) {
        o.log?.error({ err, generation_id: e.generationId }, 'webhook delivery not queued');
      }
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
