// Helpers shared by bench:paths and bench:soak: the forked fake media provider (media-upstream.ts),
// the catalog and environment that point lumengate at it, and extra text upstreams.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReplicateScript } from '../test/support/fake-replicate.js';
import { openAITextModel } from '../test/support/text-models.js';

const here = dirname(fileURLToPath(import.meta.url));

/** The token the fake Replicate accepts (test/support/fake-replicate.ts). */
export const FAKE_REPLICATE_TOKEN = 'r8_fake_test_token';

export interface MediaUpstream {
  baseUrl: string;
  pid: number;
  /** Script of the predictions created from now on. */
  setDefaults(script: ReplicateScript): Promise<void>;
  stop(): Promise<void>;
}

export async function startMediaUpstream(): Promise<MediaUpstream> {
  const child = fork(join(here, 'media-upstream.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const [first] = (await once(child, 'message')) as [{ baseUrl: string }];
  return {
    baseUrl: first.baseUrl,
    pid: child.pid!,
    async setDefaults(defaults) {
      child.send({ defaults });
      await once(child, 'message');
    },
    async stop() {
      const exited = once(child, 'exit');
      child.disconnect();
      await exited;
    },
  };
}

/** lumengate's environment for jobs on the fake Replicate: files in `filesDir`, quick provider polls. */
export function mediaEnv(media: MediaUpstream, filesDir: string, providerPollMs: number): Record<string, string> {
  return {
    REPLICATE_API_TOKEN: FAKE_REPLICATE_TOKEN,
    REPLICATE_BASE_URL: media.baseUrl,
    LUMENGATE_FILES_DIR: filesDir,
    LUMENGATE_JOB_PROVIDER_POLL_MS: String(providerPollMs),
    LUMENGATE_JOB_IDLE_POLL_MS: '200',
  };
}

/**
 * A catalog file (LUMENGATE_CONFIG) adding text models routed to extra OpenAI-style upstreams, one
 * provider per upstream: the fake upstream answers every request with one script, so traffic that
 * needs two scripts at once (plain text and tool calls) needs two upstreams. Returns the env vars.
 */
export function extraTextModels(path: string, models: Array<{ slug: string; provider: string; origin: string }>): Record<string, string> {
  const providers: Record<string, unknown> = {};
  const env: Record<string, string> = { LUMENGATE_CONFIG: path };
  for (const m of models) {
    providers[m.provider] = { type: 'openai', base_url: `${m.origin}/v1` };
    env[`${m.provider.toUpperCase().replace(/[^A-Z0-9]/g, '_')}_API_KEY`] = 'sk-bench';
  }
  writeFileSync(
    path,
    JSON.stringify({
      providers,
      models: models.map((m) => openAITextModel(m.slug, { routes: [{ provider: m.provider, model: 'gpt-5-nano' }] })),
    }),
  );
  return env;
}
