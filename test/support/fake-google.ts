// Fake Gemini API (POST /v1beta/models/{model}:streamGenerateContent?alt=sse). Byte layout follows
// the real stream: "data: <json>\r\n\r\n" with Google's JSON spacing ({"key": value,"key2": ...}),
// no terminal sentinel: the last chunk carries finishReason and the full usageMetadata.
import type { ServerResponse } from 'node:http';
import { applyGenericEnding, startFakeUpstream, type FakeUpstream, type RecordedRequest, type StreamContext } from './fake-upstream.js';

export type { FakeScript, FakeUpstream, RecordedRequest } from './fake-upstream.js';

const errorStatuses: Record<number, [status: string, message: string]> = {
  400: ['INVALID_ARGUMENT', 'Request contains an invalid argument.'],
  403: ['PERMISSION_DENIED', "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API."],
  404: ['NOT_FOUND', 'models/gemini-unknown is not found for API version v1beta, or is not supported for generateContent.'],
  429: ['RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'],
  500: ['INTERNAL', 'An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting'],
  503: ['UNAVAILABLE', 'The model is overloaded. Please try again later.'],
};

/** Google's compact JSON: ": " after keys, "," without a space between members. */
export function googleJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(googleJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${JSON.stringify(k)}: ${googleJson(v)}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}

function errorResponse(res: ServerResponse, status: number, said?: string): void {
  const [name, usual] = errorStatuses[status] ?? ['INTERNAL', 'An internal error has occurred.'];
  const message = said ?? usual;
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', vary: 'Origin, X-Origin, Referer' });
  res.end(`${JSON.stringify({ error: { code: status, message, status: name } }, null, 2)}\n`);
}

let seq = 0;

// The thought signatures this fake gave, which a Gemini 3 model checks on the calls of the current turn.
const signatures = new Set<string>();
/** What the AI SDK sends for a call whose signature it does not have: Google documents it as accepted. */
const skipSignature = 'skip_thought_signature_validator';

type SentPart = { text?: string; functionCall?: { name: string }; functionResponse?: unknown; thoughtSignature?: string };

/**
 * Gemini 3 refuses the current turn (everything after the user's last text) when a step's first
 * functionCall part has no thought signature, or one it did not give, in the API's words.
 */
function refuse(req: RecordedRequest): { status: number; message: string } | undefined {
  if (!/models\/gemini-3/.test(req.path)) return undefined;
  const contents = (req.body?.contents ?? []) as { role: string; parts: SentPart[] }[];
  let turn = contents.length - 1;
  while (turn >= 0 && !(contents[turn]!.role === 'user' && contents[turn]!.parts.some((p) => p.text !== undefined))) turn--;
  for (const [i, c] of contents.entries()) {
    const call = i > turn && c.role === 'model' ? c.parts.findIndex((p) => p.functionCall) : -1;
    if (call < 0) continue;
    const signature = c.parts[call]!.thoughtSignature;
    if (signature === undefined) {
      return {
        status: 400,
        message: `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${c.parts[call]!.functionCall!.name}\` , position ${i + 1}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details.`,
      };
    }
    if (signature !== skipSignature && !signatures.has(signature)) return { status: 400, message: 'Corrupted thought signature.' };
  }
  return undefined;
}

type GeminiPart = { text: string; thought?: true } | { functionCall: { name: string; args: unknown }; thoughtSignature?: string };

/**
 * One chunk per thought summary (`thought: true` parts) and per text piece, then every function
 * call of the answer whole in one chunk (Gemini neither streams arguments nor gives calls ids).
 * The last chunk carries finishReason STOP (also for tool calls) and the final usage.
 */
async function stream(ctx: StreamContext): Promise<void> {
  const { chunks, usage, ending, reasoning, toolCalls } = ctx.script;
  const model = /models\/([^:]+):/.exec(ctx.req.path)?.[1] ?? 'gemini-2.5-flash';
  const responseId = `Fk${(++seq).toString().padStart(20, '0')}`;
  const frames: GeminiPart[][] = [
    ...reasoning.map((text) => [{ text, thought: true as const }]),
    ...(chunks.length === 0 && ending === 'finish' && toolCalls.length === 0 ? [''] : chunks).map((text) => [{ text }]),
  ];
  if (toolCalls.length > 0 && ending === 'finish') {
    // One signature per answer, on its first call (as Gemini 3 gives it for parallel calls).
    const signature = ctx.script.signature ?? `CiQB0e2Kb1${responseId}`;
    signatures.add(signature);
    frames.push(toolCalls.map((c, i) => ({ functionCall: { name: c.name, args: JSON.parse(c.arguments.join('') || '{}') }, ...(i === 0 ? { thoughtSignature: signature } : {}) })));
  }
  const thoughts = usage.reasoning ?? 0;
  for (const [i, parts] of frames.entries()) {
    const last = ending === 'finish' && i === frames.length - 1;
    const candidates = last ? usage.output - thoughts : Math.min(i + 1, usage.output - thoughts);
    const body = {
      candidates: [{ content: { parts, role: 'model' }, finishReason: last ? 'STOP' : undefined, index: 0 }],
      usageMetadata: {
        promptTokenCount: usage.input,
        candidatesTokenCount: candidates,
        totalTokenCount: usage.input + candidates + thoughts,
        cachedContentTokenCount: usage.cachedInput,
        promptTokensDetails: [{ modality: 'TEXT', tokenCount: usage.input }],
        cacheTokensDetails: usage.cachedInput ? [{ modality: 'TEXT', tokenCount: usage.cachedInput }] : undefined,
        thoughtsTokenCount: thoughts || undefined,
      },
      modelVersion: model,
      responseId,
    };
    if (!(await ctx.write(`data: ${googleJson(body)}\r\n\r\n`))) return;
  }
  const next = await applyGenericEnding(ctx);
  if (next === 'error-event') {
    const [status, message] = errorStatuses[503]!;
    await ctx.write(`data: ${googleJson({ error: { code: 503, message, status } })}\r\n\r\n`);
  }
  if (next !== 'done') ctx.end();
}

/** Starts the fake; point the provider's base_url at `${origin}/v1beta`. */
export function startFakeGoogle(): Promise<FakeUpstream> {
  return startFakeUpstream({
    errorResponse,
    streamHeaders: { 'content-type': 'text/event-stream', 'x-content-type-options': 'nosniff', 'server-timing': 'gfet4t7; dur=120' },
    stream,
    refuse,
  });
}
