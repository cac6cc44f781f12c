import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatMLChatWrapper, QwenChatWrapper, type ChatHistoryItem, type ChatWrapper } from 'node-llama-cpp';
import { toChatHistory } from './chat-history.js';
import type { Message } from '../spec.js';

const user = (text: string): Message => ({ role: 'user', content: [{ type: 'text', text }] });
const weatherCall = { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' };
/** The model wrote, called a tool, got its result and wrote on; then the user answered. */
const textCallResultText: Message[] = [
  user('Weather in Paris?'),
  { role: 'assistant', content: 'Let me check.', toolCalls: [weatherCall] },
  { role: 'tool', toolCallId: 'call_1', content: '{"sky":"sunny"}' },
  { role: 'assistant', content: 'It is sunny.' },
  user('Thanks'),
];
const weatherCallItem = { type: 'functionCall', name: 'get_weather', params: { city: 'Paris' }, result: { sky: 'sunny' }, startsNewChunk: true };

/** The prompt a chat wrapper renders from the history. */
function rendered(wrapper: ChatWrapper, chatHistory: ChatHistoryItem[]): string {
  return wrapper.generateContextState({ chatHistory }).contextText.toString();
}

test('text, a call with its result, then more text are one model turn with its parts in that order', () => {
  assert.deepEqual(toChatHistory(textCallResultText), [
    { type: 'user', text: 'Weather in Paris?' },
    { type: 'model', response: ['Let me check.', weatherCallItem, 'It is sunny.'] },
    { type: 'user', text: 'Thanks' },
    { type: 'model', response: [] },
  ]);
});

test('the chat wrapper renders that turn as one assistant turn: text, call, result, text', () => {
  const prompt = rendered(new ChatMLChatWrapper(), toChatHistory(textCallResultText));
  // One for the conversation's turn, one opened for the answer to generate.
  assert.equal(prompt.split('<|im_start|>assistant').length - 1, 2, prompt);
  const at = ['Let me check.', '||call: get_weather({"city": "Paris"})', '||result: {"sky": "sunny"}', 'It is sunny.<|im_end|>'].map((s) => prompt.indexOf(s));
  assert.ok(
    at.every((i, n) => i >= 0 && (n === 0 || i > at[n - 1]!)),
    prompt,
  );
});

test('a previous response continued with its results (/v1/responses): one turn, which the model continues', () => {
  // What /v1/responses rebuilds from a response with text, a call, then text, followed by the call's output.
  const history = toChatHistory([
    user('Weather in Paris?'),
    { role: 'assistant', content: 'Let me check.', toolCalls: [weatherCall] },
    { role: 'assistant', content: 'It is sunny.' },
    { role: 'tool', toolCallId: 'call_1', content: '{"sky":"sunny"}' },
  ]);
  assert.deepEqual(history, [
    { type: 'user', text: 'Weather in Paris?' },
    { type: 'model', response: ['Let me check.', weatherCallItem, 'It is sunny.'] },
  ]);
});

test('two assistant messages in a row (/v1/chat) are one model turn, their text one string', () => {
  const history = toChatHistory([user('Hi'), { role: 'assistant', content: 'Hello.' }, { role: 'assistant', content: ' How can I help?' }, user('Weather?')]);
  assert.deepEqual(history, [
    { type: 'user', text: 'Hi' },
    { type: 'model', response: ['Hello. How can I help?'] },
    { type: 'user', text: 'Weather?' },
    { type: 'model', response: [] },
  ]);
});

test("each assistant message's calls stay their own batch in the merged turn", () => {
  const history = toChatHistory([
    user('Weather and time?'),
    {
      role: 'assistant',
      content: '',
      toolCalls: [weatherCall, { id: 'call_2', name: 'get_weather', arguments: '{"city":"Oslo"}' }],
    },
    { role: 'tool', toolCallId: 'call_1', content: 'sunny' },
    { role: 'tool', toolCallId: 'call_2', content: 'rain' },
    { role: 'assistant', content: '', toolCalls: [{ id: 'call_3', name: 'get_time', arguments: '{}' }] },
    { role: 'tool', toolCallId: 'call_3', content: '12:00' },
  ]);
  assert.equal(history.length, 2);
  const turn = history[1]!;
  assert.equal(turn.type, 'model');
  assert.deepEqual(
    turn.response.map((r) => typeof r === 'object' && r.type === 'functionCall' && [r.name, r.result, r.startsNewChunk]),
    [
      ['get_weather', 'sunny', true],
      ['get_weather', 'rain', undefined],
      ['get_time', '12:00', true],
    ],
  );
  // A wrapper with parallel calls gives the second batch's call after the first batch's results.
  const prompt = rendered(new QwenChatWrapper(), history);
  const rain = prompt.indexOf('rain');
  const getTime = prompt.indexOf('"get_time"');
  assert.ok(rain >= 0 && getTime > rain, prompt);
});
