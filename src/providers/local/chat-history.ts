// Our messages as node-llama-cpp chat history. An assistant turn's tool calls become
// `functionCall` items carrying the result of the tool message that answers each call, which is
// how node-llama-cpp's chat wrappers render a function call and its result into the prompt.
// Assistant messages one after another (only tool messages between them: text after a call, as
// /v1/responses rebuilds a previous response in src/openai/responses-api.ts) are one model turn,
// their text and calls in order, each call followed by its result: the shape node-llama-cpp gives
// a response in which the model wrote, called a function, got its result and wrote on. As separate
// `model` items, the chat wrappers would render each as its own assistant turn.
import type { ChatHistoryItem, ChatModelFunctionCall, ChatModelResponse } from 'node-llama-cpp';
import { messageText, type Message } from '../spec.js';

/** A conversation local models cannot render; `index` is the message's. */
export class HistoryError extends Error {
  constructor(
    message: string,
    readonly index: number,
  ) {
    super(message);
  }
}

/** The history ends with the model turn to be generated: a new empty one, or the turn whose tool results just came in. */
export function toChatHistory(messages: Message[]): ChatHistoryItem[] {
  const results = new Map<string, string>();
  for (const m of messages) if (m.role === 'tool') results.set(m.toolCallId, m.content);
  const answered = new Set<string>();
  const history: ChatHistoryItem[] = [];
  for (const [i, m] of messages.entries()) {
    if (m.role === 'system') history.push({ type: 'system', text: m.content });
    else if (m.role === 'user') history.push({ type: 'user', text: messageText(m) });
    else if (m.role === 'assistant') {
      // Tool messages add no item, so a model item last means only tool messages since that turn.
      const previous = history.at(-1);
      const turn: ChatModelResponse = previous?.type === 'model' ? previous : { type: 'model', response: [] };
      if (turn !== previous) history.push(turn);
      const { response } = turn;
      // Text right after text is one string, as src/openai/responses-api.ts joins assistant message items.
      const last = response.at(-1);
      if (m.content && typeof last === 'string') response[response.length - 1] = last + m.content;
      else if (m.content) response.push(m.content);
      for (const [n, call] of (m.toolCalls ?? []).entries()) {
        if (!results.has(call.id)) throw new HistoryError(`tool call ${call.id} has no tool message with its result`, i);
        answered.add(call.id);
        response.push({
          type: 'functionCall',
          name: call.name,
          params: parseOr(call.arguments, call.arguments),
          result: parseOr(results.get(call.id)!, results.get(call.id)),
          // One message's calls are one batch; wrappers with parallel calls render each batch on its own.
          ...(n === 0 ? { startsNewChunk: true } : {}),
        } satisfies ChatModelFunctionCall);
      }
    } else if (!answered.has(m.toolCallId)) {
      throw new HistoryError(`tool message ${m.toolCallId} answers no earlier assistant tool call`, i);
    }
  }
  const last = messages.at(-1);
  // After tool results the model continues its own turn (node-llama-cpp's function-calling flow).
  if (last?.role !== 'tool') history.push({ type: 'model', response: [] });
  return history;
}

function parseOr(text: string, fallback: unknown): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return fallback;
  }
}
