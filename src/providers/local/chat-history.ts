// Our messages as node-llama-cpp chat history. An assistant turn's tool calls become
// `functionCall` items carrying the result of the tool message that answers each call, which is
// how node-llama-cpp's chat wrappers render a function call and its result into the prompt.
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
      const response: ChatModelResponse['response'] = m.content ? [m.content] : [];
      for (const call of m.toolCalls ?? []) {
        if (!results.has(call.id)) throw new HistoryError(`tool call ${call.id} has no tool message with its result`, i);
        answered.add(call.id);
        response.push({
          type: 'functionCall',
          name: call.name,
          params: parseOr(call.arguments, call.arguments),
          result: parseOr(results.get(call.id)!, results.get(call.id)),
        } satisfies ChatModelFunctionCall);
      }
      history.push({ type: 'model', response });
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
