// Where a refused field is in a /v1/responses body. Its input items become chat-shaped messages
// (src/openai/responses-api.ts), and the checks it shares with /v1/chat/completions and /api/v2
// (content parts, input modalities and limits, tool_choice, strict schemas, provider refusals)
// name what they refuse in chat's terms: `messages.1.content.1.image_url.url`,
// `response_format.json_schema.schema`. The client sent `input.0.content.1.image_url` and
// `text.format.schema`, and an error names a field as the client sent it (docs/api.md): the
// converter records where each message came from (Origin), and every error the request gets
// passes through responsesPath on the way out. One mapping here instead of a copy of each check.
import { relocated, GatewayError } from '../core/errors.js';

/** Where one chat-shaped message came from in the body. */
export interface Origin {
  /** The item or field: `input.2`, `input` (a string input), `instructions`, `previous_response_id`. */
  at: string;
  /** Where its content is (`input.2.content`, or `input` for a string input); none where all of it is `at`. */
  content?: string;
  /** The content is an array of parts (part j at `<content>.j`), not a string that is its one text part. */
  parts?: boolean;
  /** A function_call_output's `call_id` (chat's `tool_call_id`). */
  callId?: string;
  /** The function_call items of an assistant turn, in order (chat's `tool_calls.N` is item `calls[N]`). */
  calls?: string[];
}

/** A chat content part's field -> the responses part's (`image_url.url` -> `image_url`, `file.file_data` -> `file_data`). */
function partField(rest: string[]): string[] {
  if (rest[0] === 'image_url') return rest[1] === 'detail' ? ['detail'] : ['image_url'];
  if (rest[0] === 'file') return rest.slice(1);
  return rest;
}

/** `rest` of a path inside message `o` (`content.1.image_url.url`) -> the path in the body. */
function inMessage(o: Origin, rest: string[]): string {
  if (rest[0] === 'tool_call_id' && o.callId) return o.callId;
  // tool_calls.N.function.arguments -> input.K.arguments: a function_call item's fields are flat.
  const call = rest[0] === 'tool_calls' ? o.calls?.[Number(rest[1])] : undefined;
  if (call !== undefined) return [call, ...rest.slice(rest[2] === 'function' ? 3 : 2)].join('.');
  if (rest[0] !== 'content' || o.content === undefined) return o.at;
  if (rest.length === 1 || !o.parts) return o.content;
  return [o.content, rest[1]!, ...partField(rest.slice(2))].join('.');
}

/**
 * A chat-shaped path -> where the same field is in the /v1/responses body; `origins[i]` is where
 * the request's message i came from. Paths already in the body's terms are left as they are.
 */
export function responsesPath(path: string, origins: readonly Origin[]): string {
  const [head, ...rest] = path.split('.');
  switch (head) {
    case 'messages': {
      const o = rest.length > 0 ? origins[Number(rest[0])] : undefined;
      return o ? inMessage(o, rest.slice(1)) : 'input';
    }
    // The character limit counts the whole conversation (/v1 chat and /api/v2 name it `prompt`).
    case 'prompt':
      return 'input';
    // text.format is response_format's json_schema, flat: {type, name, schema, description, strict}.
    case 'response_format':
      return ['text', 'format', ...(rest[0] === 'json_schema' ? rest.slice(1) : rest)].join('.');
    // Tools are flat too: a function's fields are the tool's own.
    case 'tools':
      return rest[1] === 'function' ? ['tools', rest[0]!, ...rest.slice(2)].join('.') : path;
    case 'tool_choice':
      return rest[0] === 'function' ? ['tool_choice', ...rest.slice(1)].join('.') : path;
    case 'max_tokens':
    case 'max_completion_tokens':
      return 'max_output_tokens';
    case 'reasoning_effort':
      return 'reasoning.effort';
    default:
      return path;
  }
}

/** An error as the responses body names its fields; anything else as it is. */
export function inResponsesTerms<T>(err: T, origins: readonly Origin[]): T | GatewayError {
  return err instanceof GatewayError ? relocated(err, (p) => responsesPath(p, origins)) : err;
}
