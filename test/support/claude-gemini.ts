// The gateway in front of Anthropic and Gemini fakes that speak their real wire formats, for the
// suites about those two providers: started in a suite's `before`, closed in its `after`.
import { startFakeAnthropic } from './fake-anthropic.js';
import { startFakeGoogle } from './fake-google.js';
import type { FakeUpstream } from './fake-upstream.js';
import { startHarness, type Harness, type HarnessOptions } from './harness.js';

export interface ClaudeGemini {
  h: Harness;
  anthropic: FakeUpstream;
  google: FakeUpstream;
}

/** A harness whose anthropic and google providers are the two fakes; `opts` as startHarness's (its env added). */
export async function startClaudeGemini(opts: HarnessOptions = {}): Promise<ClaudeGemini> {
  const anthropic = await startFakeAnthropic();
  const google = await startFakeGoogle();
  const env = { ANTHROPIC_API_KEY: 'sk-ant-fake', ANTHROPIC_BASE_URL: `${anthropic.origin}/v1`, GOOGLE_API_KEY: 'g-fake', GOOGLE_BASE_URL: `${google.origin}/v1beta` };
  const h = await startHarness({ ...opts, env: { ...env, ...opts.env } });
  return { h, anthropic, google };
}

/** Closes what startClaudeGemini started (whatever of it a failed `before` got to). */
export async function closeClaudeGemini(r: Partial<ClaudeGemini>): Promise<void> {
  await r.h?.close();
  await r.anthropic?.close();
  await r.google?.close();
}
