// `lumengate chat MODEL [prompt...]`: talks to a running gateway over its HTTP API and prints the
// answer to the terminal delta by delta. One prompt (arguments or piped stdin) answers once; a
// terminal (or --interactive) gets a conversation. Ctrl-C stops the current answer.
import { createInterface } from 'node:readline';
import { text } from 'node:stream/consumers';
import type { Command } from 'commander';
import { numberFrom, withGateway } from './options.js';
import { createParser } from 'eventsource-parser';

interface ChatOptions {
  url: string;
  key?: string;
  system?: string;
  temperature?: number;
  interactive?: boolean;
}

interface Message {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** What the gateway said at the end of a streamed generation. */
export interface StreamEnd {
  id: number | null;
  tokensSpent: number | null;
  balance: number | null;
}

export class ChatError extends Error {}

/** POST /api/v2/generate/stream; calls onDelta for each content delta as soon as it arrives. */
export async function streamChat(opts: { url: string; key: string; body: unknown; signal?: AbortSignal; onDelta(text: string): void }): Promise<StreamEnd> {
  const res = await fetch(new URL('/api/v2/generate/stream', opts.url), {
    method: 'POST',
    headers: { authorization: `Bearer ${opts.key}`, 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify(opts.body),
    signal: opts.signal,
  }).catch((err: Error & { cause?: { code?: string; message?: string } }) => {
    if (opts.signal?.aborted) throw err;
    throw new ChatError(`cannot reach ${opts.url}: ${err.cause?.code ?? err.cause?.message ?? err.message}`);
  });
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => null)) as { error?: string; message?: string } | null;
    throw new ChatError(body?.error ? `${body.error}: ${body.message}` : `HTTP ${res.status} from ${opts.url}`);
  }
  const end: StreamEnd = { id: null, tokensSpent: null, balance: null };
  let failure: string | null = null;
  const parser = createParser({
    onEvent(ev) {
      if (ev.data === '[DONE]') return;
      const e = JSON.parse(ev.data) as { type: string; id?: number; delta?: string; tokens_spent?: number; balance_remaining?: number; message?: string; code?: string };
      if (e.type === 'generation_start') end.id = e.id ?? null;
      else if (e.type === 'content_delta' && e.delta) opts.onDelta(e.delta);
      else if (e.type === 'generation_end') Object.assign(end, { tokensSpent: e.tokens_spent ?? null, balance: e.balance_remaining ?? null });
      else if (e.type === 'error') failure = `${e.code ?? 'error'}: ${e.message}`;
    },
  });
  const decoder = new TextDecoder();
  for await (const chunk of res.body) parser.feed(decoder.decode(chunk, { stream: true }));
  if (failure) throw new ChatError(failure);
  return end;
}

const temperature = numberFrom(0, 2);

export function registerChat(program: Command): void {
  withGateway(program.command('chat <model> [prompt...]').description('chat with a model through a running gateway; the answer streams to the terminal'))
    .option('--system <text>', 'system prompt')
    .option('--temperature <t>', 'sampling temperature, 0-2', temperature)
    .option('-i, --interactive', 'a conversation, one line per turn (default when stdin is a terminal and no prompt is given)')
    .action((model: string, words: string[], o: ChatOptions) => chat(model, words, o));
}

async function chat(model: string, words: string[], o: ChatOptions): Promise<void> {
  const key = o.key ?? process.env.LUMENGATE_API_KEY;
  if (!key) throw new ChatError('no API key: pass --key or set LUMENGATE_API_KEY');
  const history: Message[] = o.system ? [{ role: 'system', content: o.system }] : [];
  const status = (s: string) => process.stderr.write(process.stderr.isTTY ? `\x1b[2m${s}\x1b[0m\n` : `${s}\n`);

  let current: AbortController | null = null;

  /** One turn: streams the answer and keeps it in the conversation (not when stopped or failed). */
  const turn = async (prompt: string): Promise<void> => {
    history.push({ role: 'user', content: prompt });
    const abort = new AbortController();
    current = abort;
    const onSigint = () => abort.abort();
    process.on('SIGINT', onSigint);
    let answer = '';
    try {
      const end = await streamChat({
        url: o.url,
        key,
        signal: abort.signal,
        body: { model, messages: history, ...(o.temperature !== undefined ? { temperature: o.temperature } : {}) },
        onDelta(t) {
          answer += t;
          process.stdout.write(t);
        },
      });
      if (!answer.endsWith('\n')) process.stdout.write('\n');
      history.push({ role: 'assistant', content: answer });
      status(`[${model} · generation ${end.id} · ${end.tokensSpent} token${end.tokensSpent === 1 ? '' : 's'} spent · balance ${end.balance}]`);
    } catch (err) {
      if (answer && !answer.endsWith('\n')) process.stdout.write('\n');
      history.pop();
      if (!abort.signal.aborted) throw err;
      status('[stopped]');
    } finally {
      current = null;
      process.off('SIGINT', onSigint);
    }
  };

  const prompt = words.join(' ').trim();
  if (prompt) return turn(prompt);
  if (!o.interactive && !process.stdin.isTTY) {
    const piped = (await text(process.stdin)).trim();
    if (!piped) throw new ChatError('nothing to send: give a prompt as arguments or on stdin');
    return turn(piped);
  }

  // A conversation: each line is a turn; an empty line is ignored; Ctrl-D or /exit ends it.
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: !!process.stdin.isTTY });
  if (process.stdin.isTTY) status(`chatting with ${model} at ${o.url} (Ctrl-C stops an answer, Ctrl-D or /exit quits)`);
  // On a terminal readline turns Ctrl-C into this event: stop the answer, or quit at the prompt.
  rl.on('SIGINT', () => (current ? current.abort() : rl.close()));
  rl.setPrompt('you> ');
  // Piped stdin can end while an answer streams: Node 24 throws on prompting a closed interface.
  let closed = false;
  rl.once('close', () => (closed = true));
  const showPrompt = () => {
    if (!closed) rl.prompt();
  };
  showPrompt();
  for await (const line of rl) {
    const input = line.trim();
    if (input === '/exit') break;
    if (input) {
      try {
        await turn(input);
      } catch (err) {
        if (!(err instanceof ChatError)) throw err;
        process.stderr.write(`lumengate: ${err.message}\n`);
        process.exitCode = 1;
      }
    }
    showPrompt();
  }
  rl.close();
}
