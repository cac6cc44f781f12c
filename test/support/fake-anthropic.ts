// Fake Anthropic Messages API (POST /v1/messages, stream: true). Byte layout follows the real
// stream: "event: <type>\ndata: <json>\n\n", compact JSON except ping/error which Anthropic sends
// with spaces after separators.
import type { ServerResponse } from 'node:http';
import { applyGenericEnding, startFakeUpstream, writeChunks, type FakeUpstream, type StreamContext } from './fake-upstream.js';

export type { FakeScript, FakeUpstream, RecordedRequest } from './fake-upstream.js';

const errorTypes: Record<number, [type: string, message: string]> = {
  400: ['invalid_request_error', 'messages: at least one message is required'],
  401: ['authentication_error', 'invalid x-api-key'],
  403: ['permission_error', 'Your API key does not have permission to use the specified resource.'],
  404: ['not_found_error', 'model: claude-unknown'],
  429: ['rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit. Please try again later.'],
  500: ['api_error', 'Internal server error'],
  529: ['overloaded_error', 'Overloaded'],
};

let seq = 0;
const requestId = () => `req_011CS${(++seq).toString().padStart(17, '0')}`;
const messageId = () => `msg_01${(seq).toString().padStart(22, '0')}`;

function event(type: string, json: string): string {
  return `event: ${type}\ndata: ${json}\n\n`;
}

function errorResponse(res: ServerResponse, status: number): void {
  const [type, message] = errorTypes[status] ?? ['api_error', 'Internal server error'];
  const headers: Record<string, string> = { 'content-type': 'application/json', 'request-id': requestId(), 'x-should-retry': String(status === 429 || status >= 500) };
  if (status === 429) headers['retry-after'] = '1';
  res.writeHead(status, headers);
  res.end(JSON.stringify({ type: 'error', error: { type, message }, request_id: headers['request-id'] }));
}

async function stream(ctx: StreamContext): Promise<void> {
  const { usage } = ctx.script;
  const model = String(ctx.req.body?.model ?? 'claude-haiku-4-5');
  const start = {
    type: 'message_start',
    message: {
      model, id: messageId(), type: 'message', role: 'assistant', content: [], stop_reason: null, stop_sequence: null,
      usage: { input_tokens: usage.input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 }, output_tokens: 1, service_tier: 'standard' },
    },
  };
  if (!(await ctx.write(event('message_start', JSON.stringify(start)), false))) return;
  await ctx.write(event('content_block_start', '{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}'), false);
  await ctx.write(event('ping', '{"type": "ping"}'), false);
  const ok = await writeChunks(ctx, (text) =>
    event('content_block_delta', JSON.stringify({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } })),
  );
  if (!ok) return;
  const ending = await applyGenericEnding(ctx);
  if (ending === 'error-event') {
    await ctx.write(event('error', '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'));
    ctx.end();
  } else if (ending === 'finish') {
    await ctx.write(event('content_block_stop', '{"type":"content_block_stop","index":0}'));
    const delta = { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { input_tokens: usage.input, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: usage.output } };
    await ctx.write(event('message_delta', JSON.stringify(delta)), false);
    await ctx.write(event('message_stop', '{"type":"message_stop"}'), false);
    ctx.end();
  }
}

/** Starts the fake; point the provider's base_url at `${origin}/v1`. */
export function startFakeAnthropic(): Promise<FakeUpstream> {
  return startFakeUpstream({
    errorResponse,
    streamHeaders: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': requestId() },
    stream,
  });
}
