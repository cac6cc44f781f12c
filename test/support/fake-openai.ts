// Fake OpenAI Chat Completions API (POST /v1/chat/completions, stream: true). Byte layout follows
// the real stream: "data: <json>\n\n" chunks of chat.completion.chunk, a finish_reason chunk, a
// usage chunk with empty choices when stream_options.include_usage is set, then "data: [DONE]".
import type { ServerResponse } from 'node:http';
import { applyGenericEnding, startFakeUpstream, writeChunks, type FakeUpstream, type StreamContext } from './fake-upstream.js';

export type { FakeScript, FakeUpstream, RecordedRequest } from './fake-upstream.js';

const errors: Record<number, [message: string, type: string, code: string | null]> = {
  400: ['Invalid request.', 'invalid_request_error', null],
  401: ['Incorrect API key provided: sk-test. You can find your API key at https://platform.openai.com/account/api-keys.', 'invalid_request_error', 'invalid_api_key'],
  404: ['The model `gpt-unknown` does not exist or you do not have access to it.', 'invalid_request_error', 'model_not_found'],
  429: ['Rate limit reached for gpt-4o-mini in organization org-test on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 20s.', 'requests', 'rate_limit_exceeded'],
  500: ['The server had an error while processing your request. Sorry about that!', 'server_error', null],
  503: ['The engine is currently overloaded, please try again later.', 'server_error', null],
};

function errorResponse(res: ServerResponse, status: number): void {
  const [message, type, code] = errors[status] ?? errors[500]!;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'req_fake' });
  // OpenAI pretty-prints error bodies with four spaces.
  res.end(`${JSON.stringify({ error: { message, type, param: null, code } }, null, 4)}\n`);
}

let seq = 0;

/**
 * A content chunk's `logprobs` as OpenAI sends it when asked (`logprobs: true`): here each chunk is
 * one token, its log probability -0.5 × (chunk index + 1), and `top_logprobs` alternatives after it.
 */
export function logprobsOf(body: { logprobs?: unknown; top_logprobs?: unknown }, token: string, i: number) {
  if (body.logprobs !== true) return null;
  const entry = (t: string, logprob: number) => ({ token: t, logprob, bytes: [...Buffer.from(t)] });
  const top = Array.from({ length: Number(body.top_logprobs ?? 0) }, (_, k) => entry(k === 0 ? token : `${token}~${k}`, -0.5 * (i + 1) - k));
  return { content: [{ ...entry(token, -0.5 * (i + 1)), top_logprobs: top }], refusal: null };
}

async function stream(ctx: StreamContext): Promise<void> {
  const { usage } = ctx.script;
  const body = ctx.req.body ?? {};
  const head = {
    id: `chatcmpl-Fake${(++seq).toString().padStart(25, '0')}`,
    object: 'chat.completion.chunk',
    created: 1735689600,
    model: String(body.model ?? 'gpt-4o-mini'),
    service_tier: 'default',
    system_fingerprint: 'fp_fake0001',
  };
  const withUsage = body.stream_options?.include_usage === true;
  const chunk = (choices: unknown[], extra: object = {}) => `data: ${JSON.stringify({ ...head, choices, ...(withUsage ? { usage: null } : {}), ...extra })}\n\n`;
  const first = chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }]);
  if (!(await ctx.write(first, false))) return;
  for (const r of ctx.script.reasoning) {
    if (!(await ctx.write(chunk([{ index: 0, delta: { reasoning_content: r }, logprobs: null, finish_reason: null }])))) return;
  }
  const ok = await writeChunks(ctx, (text, i) => chunk([{ index: 0, delta: { content: text }, logprobs: logprobsOf(body, text, i), finish_reason: null }]));
  if (!ok) return;
  // Tool calls as OpenAI streams them: index, id, type and name with empty arguments first, then
  // the arguments in pieces carrying only the index.
  for (const [index, call] of ctx.script.toolCalls.entries()) {
    const head = { index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } };
    if (!(await ctx.write(chunk([{ index: 0, delta: { tool_calls: [head] }, logprobs: null, finish_reason: null }])))) return;
    for (const piece of call.arguments) {
      if (!(await ctx.write(chunk([{ index: 0, delta: { tool_calls: [{ index, function: { arguments: piece } }] }, logprobs: null, finish_reason: null }])))) return;
    }
  }
  const ending = await applyGenericEnding(ctx);
  if (ending === 'error-event') {
    await ctx.write(`data: ${JSON.stringify({ error: { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', param: null, code: null } })}\n\n`);
    ctx.end();
  } else if (ending === 'finish' || ending === 'done-no-close') {
    await ctx.write(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: ctx.script.toolCalls.length ? 'tool_calls' : 'stop' }]));
    if (withUsage) {
      const u = {
        prompt_tokens: usage.input,
        completion_tokens: usage.output,
        total_tokens: usage.input + usage.output,
        prompt_tokens_details: { cached_tokens: usage.cachedInput ?? 0, audio_tokens: 0 },
        completion_tokens_details: { reasoning_tokens: usage.reasoning ?? 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
      };
      await ctx.write(`data: ${JSON.stringify({ ...head, choices: [], usage: u })}\n\n`, false);
    }
    await ctx.write('data: [DONE]\n\n', false);
    // 'done-no-close': the answer is complete but the connection stays open (a misbehaving proxy).
    if (ending === 'finish') ctx.end();
  }
}

/** Starts the fake; point the provider's base_url at `${origin}/v1`. */
export function startFakeOpenAI(opts: { port?: number; backlog?: number } = {}): Promise<FakeUpstream> {
  return startFakeUpstream(
    {
      errorResponse,
      streamHeaders: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'x-request-id': 'req_fake' },
      stream,
    },
    opts,
  );
}
