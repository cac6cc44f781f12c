// Fake Anthropic Messages API (POST /v1/messages, stream: true). Byte layout follows the real
// stream: "event: <type>\ndata: <json>\n\n", compact JSON except ping/error which Anthropic sends
// with spaces after separators.
import type { ServerResponse } from 'node:http';
import { applyGenericEnding, startFakeUpstream, writeChunks, type FakeUpstream, type RecordedRequest, type StreamContext } from './fake-upstream.js';

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
const messageId = () => `msg_01${seq.toString().padStart(22, '0')}`;

function event(type: string, json: string): string {
  return `event: ${type}\ndata: ${json}\n\n`;
}

function errorResponse(res: ServerResponse, status: number, said?: string): void {
  const [type, usual] = errorTypes[status] ?? ['api_error', 'Internal server error'];
  const message = said ?? usual;
  const headers: Record<string, string> = { 'content-type': 'application/json', 'request-id': requestId(), 'x-should-retry': String(status === 429 || status >= 500) };
  if (status === 429) headers['retry-after'] = '1';
  res.writeHead(status, headers);
  res.end(JSON.stringify({ type: 'error', error: { type, message }, request_id: headers['request-id'] }));
}

const delta = (index: number, d: unknown) => event('content_block_delta', JSON.stringify({ type: 'content_block_delta', index, delta: d }));
const blockStart = (index: number, block: unknown) => event('content_block_start', JSON.stringify({ type: 'content_block_start', index, content_block: block }));
const blockStop = (index: number) => event('content_block_stop', `{"type":"content_block_stop","index":${index}}`);

// What this fake signed: a thinking block's signature -> its text, and redacted thinking's data.
// The real API checks that thinking comes back unchanged; so does the fake.
const signed = new Map<string, string>();
const redacted = new Set<string>();

type Block = { type: string; thinking?: string; signature?: string; data?: string };

/**
 * What the Messages API refuses of a conversation with thinking blocks: a signature it did not
 * make for that text, redacted data it did not send, and (with thinking on) a last assistant
 * message that makes calls without opening with its thinking, in the API's own words.
 */
function refuse(req: RecordedRequest): { status: number; message: string } | undefined {
  const messages = (req.body?.messages ?? []) as { role: string; content: string | Block[] }[];
  for (const [i, m] of messages.entries()) {
    if (m.role !== 'assistant' || typeof m.content === 'string') continue;
    for (const [j, b] of m.content.entries()) {
      if (b.type === 'thinking' && signed.get(b.signature ?? '') !== b.thinking) return { status: 400, message: `messages.${i}.content.${j}: Invalid \`signature\` in \`thinking\` block` };
      if (b.type === 'redacted_thinking' && !redacted.has(b.data ?? '')) return { status: 400, message: `messages.${i}.content.${j}: Invalid \`data\` in \`redacted_thinking\` block` };
    }
  }
  if (req.body?.thinking?.type !== 'enabled') return undefined;
  let i = messages.length - 1;
  while (i >= 0 && messages[i]!.role !== 'assistant') i--;
  const last = messages[i];
  if (!last || typeof last.content === 'string' || !last.content.some((b) => b.type === 'tool_use')) return undefined;
  const first = last.content[0]!.type;
  if (first === 'thinking' || first === 'redacted_thinking') return undefined;
  return {
    status: 400,
    message:
      `messages.${i}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${first}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block ` +
      '(preceeding the lastmost set of `tool_use` and `tool_result` blocks). We recommend you include thinking blocks from previous turns. To avoid this requirement, disable `thinking`. ' +
      'Please consult our documentation at https://docs.claude.com/en/docs/build-with-claude/extended-thinking',
  };
}

/**
 * Content blocks in the order Claude sends them: redacted thinking, thinking (with its signature, one per message), text, then one
 * tool_use block per call whose input streams as input_json_delta pieces (the first one empty).
 * The text block stays open until the ending when no tool call follows it, so an in-stream error
 * lands inside it as it does upstream.
 */
async function stream(ctx: StreamContext): Promise<void> {
  const { usage, reasoning, toolCalls, chunks, redactedThinking } = ctx.script;
  const model = String(ctx.req.body?.model ?? 'claude-haiku-4-5');
  const id = messageId();
  const cached = usage.cachedInput ?? 0;
  const inputUsage = { input_tokens: usage.input - cached, cache_creation_input_tokens: 0, cache_read_input_tokens: cached };
  const start = {
    type: 'message_start',
    message: {
      model,
      id,
      type: 'message',
      role: 'assistant',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...inputUsage, cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 }, output_tokens: 1, service_tier: 'standard' },
    },
  };
  if (!(await ctx.write(event('message_start', JSON.stringify(start)), false))) return;
  let index = 0;
  let pinged = false;
  const open = async (block: unknown) => {
    await ctx.write(blockStart(index, block), false);
    if (!pinged) await ctx.write(event('ping', '{"type": "ping"}'), false);
    pinged = true;
  };
  if (redactedThinking !== undefined) {
    redacted.add(redactedThinking);
    await open({ type: 'redacted_thinking', data: redactedThinking });
    await ctx.write(blockStop(index++), false);
  }
  if (reasoning.length > 0) {
    const signature = ctx.script.signature ?? `EqQBCkgIBhABGAIiQL2Z${Buffer.from(id).toString('base64')}`;
    signed.set(signature, reasoning.join(''));
    await open({ type: 'thinking', thinking: '', signature: '' });
    for (const thinking of reasoning) if (!(await ctx.write(delta(index, { type: 'thinking_delta', thinking })))) return;
    await ctx.write(delta(index, { type: 'signature_delta', signature }), false);
    await ctx.write(blockStop(index++), false);
  }
  const textBlock = chunks.length > 0 || toolCalls.length === 0 ? index++ : undefined;
  if (textBlock !== undefined) {
    await open({ type: 'text', text: '' });
    if (!(await writeChunks(ctx, (text) => delta(textBlock, { type: 'text_delta', text })))) return;
    if (toolCalls.length > 0) await ctx.write(blockStop(textBlock), false);
  }
  for (const call of toolCalls) {
    await open({ type: 'tool_use', id: call.id, name: call.name, input: {} });
    for (const partial_json of ['', ...call.arguments]) if (!(await ctx.write(delta(index, { type: 'input_json_delta', partial_json })))) return;
    await ctx.write(blockStop(index++), false);
  }
  const ending = await applyGenericEnding(ctx);
  if (ending === 'error-event') {
    await ctx.write(event('error', '{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}'));
    ctx.end();
  } else if (ending === 'finish') {
    if (textBlock !== undefined && toolCalls.length === 0) await ctx.write(blockStop(textBlock));
    const stop_reason = toolCalls.length > 0 ? 'tool_use' : 'end_turn';
    const messageDelta = { type: 'message_delta', delta: { stop_reason, stop_sequence: null }, usage: { ...inputUsage, output_tokens: usage.output } };
    await ctx.write(event('message_delta', JSON.stringify(messageDelta)), false);
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
    refuse,
  });
}
