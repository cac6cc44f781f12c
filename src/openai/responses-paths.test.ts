// responsesPath: chat-shaped paths -> where the field is in a /v1/responses body; the errors and
// failures carrying them, messages and details included (test/openai/responses.test.ts asks a
// real server for the ones a request can reach).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { GatewayError, unsupportedField, validationError } from '../core/errors.js';
import { describeFailure } from '../generation/lifecycle.js';
import { RequestRefused } from '../providers/spec.js';
import { inResponsesTerms, responsesPath, type Origin } from './responses-paths.js';

// instructions, then a user item with parts, a user item with a string, an assistant turn, a function_call_output.
const origins: Origin[] = [
  { at: 'instructions' },
  { at: 'previous_response_id' },
  { at: 'input.0', content: 'input.0.content', parts: true },
  { at: 'input.1', content: 'input.1.content', parts: false },
  { at: 'input.2' },
  { at: 'input.4', content: 'input.4.output', callId: 'input.4.call_id' },
];

describe('responsesPath', () => {
  it('maps messages, parts and fields of chat to the responses body; leaves its own paths alone', () => {
    const cases: [string, string][] = [
      ['messages', 'input'],
      ['messages.0', 'instructions'],
      ['messages.1.content.3.image_url.url', 'previous_response_id'],
      ['messages.2', 'input.0'],
      ['messages.2.content', 'input.0.content'],
      ['messages.2.content.1', 'input.0.content.1'],
      ['messages.2.content.1.image_url.url', 'input.0.content.1.image_url'],
      ['messages.2.content.1.image_url.detail', 'input.0.content.1.detail'],
      ['messages.2.content.1.file.file_data', 'input.0.content.1.file_data'],
      ['messages.2.content.1.file.file_id', 'input.0.content.1.file_id'],
      ['messages.3.content.0', 'input.1.content'],
      ['messages.4', 'input.2'],
      ['messages.4.name', 'input.2'],
      ['messages.5.tool_call_id', 'input.4.call_id'],
      ['messages.5.content', 'input.4.output'],
      ['messages.9', 'input'],
      ['prompt', 'input'],
      ['response_format', 'text.format'],
      ['response_format.json_schema', 'text.format'],
      ['response_format.json_schema.schema.properties.unit', 'text.format.schema.properties.unit'],
      ['tools.1.function', 'tools.1'],
      ['tools.1.function.parameters.properties.function', 'tools.1.parameters.properties.function'],
      ['tool_choice.function.name', 'tool_choice.name'],
      ['max_tokens', 'max_output_tokens'],
      ['max_completion_tokens', 'max_output_tokens'],
      ['reasoning_effort', 'reasoning.effort'],
      // Already the body's: unchanged.
      ['input.0.content.1.file_id', 'input.0.content.1.file_id'],
      ['tools.0.parameters.properties.unit', 'tools.0.parameters.properties.unit'],
      ['tool_choice', 'tool_choice'],
      ['temperature', 'temperature'],
      ['previous_response_id', 'previous_response_id'],
    ];
    assert.deepEqual(
      cases.map(([chat]) => [chat, responsesPath(chat, origins)]),
      cases,
    );
  });
});

describe('inResponsesTerms', () => {
  it('renames the fields, the message and error.param alike; keeps code, details, extra and headers', () => {
    const refused = unsupportedField('messages.2.content.1.file.file_id', 'not supported').with({ generation_id: 7 }, { 'x-generation-id': '7' });
    const moved = inResponsesTerms(refused, origins);
    assert.equal(moved.code, 'bad_request');
    assert.equal(moved.message, 'input.0.content.1.file_id: not supported');
    assert.deepEqual(moved.details, { fields: [{ path: 'input.0.content.1.file_id', message: 'not supported' }], generation_id: 7 });
    assert.deepEqual(moved.headers, { 'x-generation-id': '7' });

    const invalid = inResponsesTerms(
      validationError([
        { path: 'messages.2.content.1', message: 'no images' },
        { path: 'tool_choice.function.name', message: 'not a tool' },
      ]),
      origins,
    );
    assert.equal(invalid.message, 'input.0.content.1: no images; tool_choice.name: not a tool');
    assert.deepEqual(
      (invalid.details.fields as { path: string }[]).map((f) => f.path),
      ['input.0.content.1', 'tool_choice.name'],
    );
  });

  it('maps a path longer than 64 characters whole, then cuts the new one', () => {
    const deep = 'response_format.json_schema.schema.properties.days.items.anyOf.1.properties.unit';
    const refused = unsupportedField(deep, 'no mixed enums');
    assert.equal((refused.details.fields as { path: string }[])[0]!.path.length, 65, 'chat path is cut');
    const moved = inResponsesTerms(refused, origins);
    assert.equal(moved.message, 'text.format.schema.properties.days.items.anyOf.1.properties.unit: no mixed enums');
    const longer = inResponsesTerms(unsupportedField(`${deep}.and.more.levels.below`, 'no'), origins);
    assert.equal((longer.details.fields as { path: string }[])[0]!.path, 'text.format.schema.properties.days.items.anyOf.1.properties.unit…');
  });

  it('leaves errors without fields, errors already in the body’s terms and other throwables as they are', () => {
    const plain = new GatewayError('bad_request', 'messages are bad');
    assert.equal(inResponsesTerms(plain, origins), plain);
    const own = unsupportedField('input.0.foo', 'unknown field');
    assert.equal(inResponsesTerms(own, origins), own);
    const bug = new TypeError('x');
    assert.equal(inResponsesTerms(bug, origins), bug);
  });

  it('a failed generation (GenerationInput.fieldPath): its stored message, its error and the message a stream sends in response.failed', () => {
    const f = describeFailure(new RequestRefused('unknown call', 'messages.5.tool_call_id'), (p) => responsesPath(p, origins));
    assert.equal(f.message, 'input.4.call_id: unknown call');
    assert.equal(f.error.message, f.message);
    assert.deepEqual(f.error.details.fields, [{ path: 'input.4.call_id', message: 'unknown call' }]);
    assert.equal(f.error.with({ generation_id: 3 }).details.generation_id, 3);
    const other = describeFailure(new RequestRefused('no such thing'), (p) => responsesPath(p, origins));
    assert.equal(other.message, 'no such thing');
  });
});
