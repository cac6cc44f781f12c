// `lumengate chat MODEL [prompt]`: streams a generation from a running lumengate server to the
// terminal over /api/v2/generate/stream. With no prompt, an interactive conversation (stdin lines).
import { createInterface } from 'node:readline/promises';
import type { Command } from 'commander';
import { createParser } from 'eventsource-parser';
import type { ChatMessage } from '../providers/types.js';

interface ChatOptions {
  url: string;
  key?: string;
  system?: string;
}

interface StreamResult {
  text: string;
  tokensSpent: number | null;
  balance: number | null;
}

/** One streamed generation; writes deltas to `out` as they arrive. Throws on any error event. */
export async function streamChat(opts: { url: string; key: string; model: string; messages: ChatMessage[]; out: NodeJS.WritableStream }): Promise<StreamResult> {
  const res = await fetch(`${opts.url.replace(/\/$/, '')}/api/v2/generate/stream`, {
    method: 'POST',
    headers: { authorization: `Bearer ${opts.key}`, 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ model: opts.model, messages: opts.messages }),
  });
  if (!res.ok || !res.body) {
    const body = (await res.json().catch(() => null)) as { message?: string } | null;
    throw new Error(`HTTP ${res.status}: ${body?.message ?? res.statusText}`);
  }
  const result: StreamResult = { text: '', tokensSpent: null, balance: null };
  let failure: string | null = null;
  const parser = createParser({
    onEvent(ev) {
      if (ev.data === '[DONE]') return;
      const e = JSON.parse(ev.data) as { type: string; delta?: string; message?: string; tokens_spent?: number; balance_remaining?: number };
      if (e.type === 'content_delta' && e.delta) {
        result.text += e.delta;
        opts.out.write(e.delta);
      } else if (e.type === 'generation_end') {
        result.tokensSpent = e.tokens_spent ?? null;
        result.balance = e.balance_remaining ?? null;
      } else if (e.type === 'error') {
        failure = e.message ?? 'generation failed';
      }
    },
  });
  const decoder = new TextDecoder();
  for await (const bytes of res.body) parser.feed(decoder.decode(bytes as Uint8Array, { stream: true }));
  if (failure) throw new Error(failure);
  return result;
}

export function registerChatCommand(program: Command): void {
  program.command('chat <model> [prompt...]').description('stream a chat from a running server (LUMENGATE_URL, LUMENGATE_API_KEY)')
    .option('--url <url>', 'server URL', process.env.LUMENGATE_URL ?? 'http://127.0.0.1:8080')
    .option('--key <key>', 'nb_ API key (default: $LUMENGATE_API_KEY)')
    .option('--system <text>', 'system prompt')
    .action(async (model: string, words: string[], o: ChatOptions) => {
      const key = o.key ?? process.env.LUMENGATE_API_KEY;
      if (!key) throw new Error('an API key is required: --key nb_… or LUMENGATE_API_KEY');
      const messages: ChatMessage[] = o.system ? [{ role: 'system', content: o.system }] : [];
      const turn = async (prompt: string) => {
        messages.push({ role: 'user', content: prompt });
        const r = await streamChat({ url: o.url, key, model, messages, out: process.stdout });
        messages.push({ role: 'assistant', content: r.text });
        process.stdout.write('\n');
        process.stderr.write(`[${r.tokensSpent ?? '?'} tokens spent, balance ${r.balance ?? '?'}]\n`);
      };
      if (words.length > 0) return turn(words.join(' '));
      const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: process.stdin.isTTY });
      if (process.stdin.isTTY) process.stderr.write(`chatting with ${model}; Ctrl-D to quit\n`);
      for await (const line of rl) {
        if (line.trim()) await turn(line);
      }
    });
}
