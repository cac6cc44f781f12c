// Ollama/vLLM model discovery end to end: a fake Ollama's models become usable catalog models.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { listUpstreamModels, type DiscoveryTarget } from '../../src/providers/discovery.js';
import { freePort } from '../support/free-port.js';
import { startHarness, type Harness } from '../support/harness.js';
import { startFakeOllama, type FakeOllama } from '../support/fake-ollama.js';

const chat = (h: Harness, key: string, model: string) => h.post('/v1/chat/completions', { model, messages: [{ role: 'user', content: 'hi' }] }, key);

describe('model discovery (Ollama)', () => {
  let ollama: FakeOllama;
  let h: Harness;
  let key: string;
  before(async () => {
    ollama = await startFakeOllama(['llama3.2:3b', 'qwen2.5:0.5b']);
    h = await startHarness({
      env: { OLLAMA_BASE_URL: ollama.baseUrl },
      // A hand-written model with a discovered slug: its price and name win.
      catalog: {
        models: [
          {
            slug: 'ollama/qwen2.5:0.5b',
            name: 'Qwen (hand-written)',
            category: 'text',
            min_plan: 'free',
            pricing_type: 'fixed',
            token_cost: 4,
            min_token_cost: 4,
            max_token_cost: 4,
            supports_streaming: true,
            routes: [{ provider: 'ollama', model: 'qwen2.5:0.5b' }],
          },
        ],
      },
    });
    key = (await h.account({ plan: 'free', tokens: 100 })).key;
  });
  after(async () => {
    await h?.close();
    await ollama?.close();
  });

  it('lists the upstream models at start as ollama/<name>, in /api/v2/models and /v1/models', async () => {
    const v2 = (await h.get('/api/v2/models')).json.models;
    const llama = v2.find((m: any) => m.slug === 'ollama/llama3.2:3b');
    assert.deepEqual({ provider: llama.provider, price: llama.token_cost, plan: llama.min_plan, available: llama.available }, { provider: 'ollama', price: 1, plan: 'free', available: true });
    assert.equal(v2.filter((m: any) => m.slug === 'ollama/qwen2.5:0.5b').length, 1, 'the hand-written model is listed once');
    assert.equal(v2.find((m: any) => m.slug === 'ollama/qwen2.5:0.5b').name, 'Qwen (hand-written)');
    const v1 = (await h.get('/v1/models', key)).json.data.map((m: any) => m.id);
    assert.ok(v1.includes('ollama/llama3.2:3b') && v1.includes('ollama/qwen2.5:0.5b'));
    assert.equal((await h.get(`/api/v2/models/${encodeURIComponent('ollama/llama3.2:3b')}`)).json.slug, 'ollama/llama3.2:3b');
  });

  it('generates with both models through the upstream chat endpoint, at their prices', async () => {
    const a = await chat(h, key, 'ollama/llama3.2:3b');
    assert.equal(a.status, 200, a.text);
    assert.equal(a.json.choices[0].message.content, 'hi from llama3.2:3b');
    assert.equal(a.headers.get('x-lumengate-tokens-spent'), '1', 'the discovered default price');
    const b = await chat(h, key, 'ollama/qwen2.5:0.5b');
    assert.equal(b.json.choices[0].message.content, 'hi from qwen2.5:0.5b');
    assert.equal(b.headers.get('x-lumengate-tokens-spent'), '4', 'the hand-written price wins');
    assert.deepEqual(ollama.chats, ['llama3.2:3b', 'qwen2.5:0.5b']);
  });

  it('a model that disappears upstream disappears after the next discovery; an outage keeps the last list', async () => {
    ollama.models = ['qwen2.5:0.5b', 'mistral:7b'];
    await h.server.discovery.refresh();
    const slugs = (await h.get('/api/v2/models')).json.models.map((m: any) => m.slug);
    assert.ok(!slugs.includes('ollama/llama3.2:3b'));
    assert.ok(slugs.includes('ollama/mistral:7b'));
    assert.equal((await chat(h, key, 'ollama/llama3.2:3b')).status, 404);
    assert.ok(slugs.includes('ollama/qwen2.5:0.5b'), 'the hand-written model stays whatever the upstream says');
    await ollama.close();
    await h.server.discovery.refresh();
    assert.ok((await h.get('/api/v2/models')).json.models.some((m: any) => m.slug === 'ollama/mistral:7b'));
  });
});

describe('model discovery with an unreachable upstream', () => {
  it('starts anyway, warns, and finds the models once the upstream is up', async () => {
    const port = await freePort();
    const warnings: any[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) });
    const h = await startHarness({ env: { OLLAMA_BASE_URL: `http://127.0.0.1:${port}/v1` }, logger });
    let ollama: FakeOllama | undefined;
    try {
      assert.ok(
        warnings.some((w) => w.provider === 'ollama'),
        'a warning names the provider',
      );
      assert.ok(!(await h.get('/api/v2/models')).json.models.some((m: any) => m.provider === 'ollama'));
      // The upstream comes up at the address that failed: the next discovery pass finds it.
      ollama = await startFakeOllama(['llama3.2:3b'], port);
      await h.server.discovery.refresh();
      assert.ok((await h.get('/api/v2/models')).json.models.some((m: any) => m.slug === 'ollama/llama3.2:3b'));
    } finally {
      await h.close();
      await ollama?.close();
    }
  });
});

describe('model discovery reads a bounded answer', () => {
  it('a /models answer that never ends fails at 16 MiB, the connection closed; a small one is read', async () => {
    const written = { bytes: 0 };
    let closed!: () => void;
    const gone = new Promise<void>((r) => (closed = r));
    const server = createServer((req, res) => {
      if (req.url?.startsWith('/small/')) return res.end(JSON.stringify({ object: 'list', data: [{ id: 'llama3.2:3b' }, { id: '' }, { name: 'no id' }] }));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.on('close', closed);
      const piece = Buffer.from(`{"id":"${'m'.repeat(64 * 1024 - 9)}"},`);
      // Writes while the client reads (at most 64 MiB): a client that reads it all would see it end.
      const more = () => {
        while (!res.destroyed && written.bytes < 64 * 2 ** 20) {
          written.bytes += piece.length;
          if (!res.write(written.bytes === piece.length ? Buffer.concat([Buffer.from('{"data":['), piece]) : piece)) return void res.once('drain', more);
        }
        res.end(']}');
      };
      more();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    const target = (path: string) => ({ provider: 'ollama', baseUrl: `http://127.0.0.1:${port}${path}`, headers: {}, settings: { price: 1, min_plan: 'free' } }) as unknown as DiscoveryTarget;
    try {
      await assert.rejects(listUpstreamModels(target('/v1')), /over the gateway's limit of 16777216 bytes/);
      await gone;
      assert.ok(written.bytes < 32 * 2 ** 20, `${written.bytes} bytes written before the close`);
      assert.deepEqual(await listUpstreamModels(target('/small/v1')), ['llama3.2:3b']);
    } finally {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    }
  });
});
