// Request examples shown in the OpenAPI document (and Swagger UI): one for each capability the API
// adds over plain text prompts. Keys are fake; models are from the shipped catalog.

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather in a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false },
  },
};

const personSchema = {
  type: 'object',
  properties: { name: { type: 'string' }, age: { type: 'integer' } },
  required: ['name', 'age'],
  additionalProperties: false,
};

export const generateExamples = [
  { model: 'gpt-5-nano', prompt: 'Write a haiku about the sea', params: { max_tokens: 64 } },
  { model: 'gpt-5-nano', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weatherTool], tool_choice: 'auto' },
  {
    model: 'gpt-5-nano',
    prompt: 'Extract: Ada Lovelace died at 36.',
    response_format: { type: 'json_schema', json_schema: { name: 'person', strict: true, schema: personSchema } },
  },
  {
    model: 'gpt-5-nano',
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this picture?' },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg' } },
        ],
      },
    ],
  },
];

export const chatExamples = [
  {
    model: 'gpt-5-nano',
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temperature_c":21}' },
    ],
    tools: [weatherTool],
    stream: true,
    stream_options: { include_usage: true },
  },
  {
    model: 'gpt-5-nano',
    messages: [{ role: 'user', content: 'Extract: Ada Lovelace died at 36.' }],
    response_format: { type: 'json_schema', json_schema: { name: 'person', strict: true, schema: personSchema } },
  },
];

export const responsesExamples = [
  { model: 'gpt-5-nano', instructions: 'Be brief.', input: 'Weather in Paris?', tools: [{ type: 'function', name: 'get_weather', parameters: weatherTool.function.parameters }], stream: true },
  { model: 'gpt-5-nano', previous_response_id: 'resp_42', input: [{ type: 'function_call_output', call_id: 'call_1', output: '{"temperature_c":21}' }] },
];

export const embeddingsExamples = [{ model: 'text-embedding-3-small', input: ['first text', 'second text'] }];

export const imagesExamples = [
  { model: 'dall-e-3', prompt: 'A lighthouse at dawn, watercolour', size: '1024x1024', quality: 'standard', response_format: 'url' },
  { model: 'gpt-image-1.5', prompt: 'A red fox icon', size: '1024x1024', quality: 'low', output_format: 'png', response_format: 'b64_json' },
];

export const speechExamples = [
  { model: 'tts-1', input: 'Hello from lumengate.', voice: 'alloy', response_format: 'mp3' },
  { model: 'espeak', input: 'Hello from the gateway itself.', voice: 'en-us', response_format: 'wav', speed: 1.2 },
];

// Answer examples, keyed like the route table ("METHOD url") and by status. Copied from real
// answers of a test server (ids, times and key prefixes made up); plugin.ts puts each on the first
// media type of its response, and test/docs checks every one against its response schema.
const at = '2026-05-04T09:30:12.418Z';
const done = '2026-05-04T09:30:13.206Z';
const generation = {
  id: 1842,
  status: 'completed',
  model_slug: 'gpt-5-nano',
  model: 'gpt-5-nano',
  result_text: 'Salt wind on the pier,\nwaves fold the evening light in—\ngulls keep the last word.',
  content: 'Salt wind on the pier,\nwaves fold the evening light in—\ngulls keep the last word.',
  tool_calls: null,
  reasoning: null,
  logprobs: null,
  refusal: null,
  result_url: null,
  thumbnail_url: null,
  error: null,
  tokens_spent: 1,
  tokens_used: 1,
  balance_remaining: 99,
  processing_ms: 788,
  result_metadata: { finish_reason: 'stop' },
  usage: { input_tokens: 14, output_tokens: 22, total_tokens: 36, reasoning_tokens: 0, cached_input_tokens: 0 },
  created_at: at,
  completed_at: done,
};
const sseText = [
  'id: 1843:1\ndata: {"type":"generation_start","id":1843,"model":"gpt-5-nano"}\n',
  'id: 1843:2\ndata: {"type":"content_delta","delta":"Hello"}\n',
  'id: 1843:3\ndata: {"type":"content_delta","delta":", world"}\n',
  'id: 1843:4\ndata: {"type":"generation_end","id":1843,"tokens_spent":1,"tokens_used":1,"balance_remaining":98}\n',
  'data: [DONE]\n\n',
].join('\n');
const model = {
  slug: 'gpt-5-nano',
  name: 'GPT-5 Nano',
  category: 'text',
  provider: 'OpenAI',
  min_plan: 'free',
  token_cost: 1,
  min_token_cost: 1,
  max_token_cost: 1,
  pricing_type: 'fixed',
  description_en: 'Fast, cheap answers and drafts',
  description_ru: null,
  supports_streaming: true,
  config: {},
  available: true,
};
const key = { id: 7, name: 'ci-runner', prefix: 'nb_Q3xv…', display_prefix: 'nb_Q3xv…', created_at: at };
const profile = {
  id: 12,
  name: 'Ada',
  username: 'Ada',
  email: null,
  telegram_username: null,
  avatar_url: null,
  plan: 'pro',
  plan_expires_at: null,
  status: 'active',
  token_balance: 98,
  plan_tokens_remaining: 98,
  bonus_tokens: 0,
  token_limit: null,
  tokens_used_this_period: 2,
  rate_limit_hourly: 600,
  rate_limit_daily: 5000,
  auth_methods: { api_key: true, telegram: false, google: false, email: false },
  api_key: { id: 7, name: 'ci-runner', prefix: 'nb_Q3xv…' },
  created_at: '2026-04-28T16:02:51.007Z',
};
const lumengate = { generation_id: 1845, tokens_spent: 1, balance_remaining: 97 };

export const answerExamples: Record<string, Record<number, unknown>> = {
  'GET /metrics': {
    200: '# HELP lumengate_http_requests_total HTTP requests by route and status\n# TYPE lumengate_http_requests_total counter\nlumengate_http_requests_total{method="POST",route="/api/v2/generate",status="200"} 1842\n',
  },
  'GET /healthz': { 200: { status: 'ok' } },
  'GET /readyz': { 200: { status: 'ok' }, 503: { error: 'service_unavailable', message: 'database unreachable: connect ECONNREFUSED 127.0.0.1:5432', details: { database: 'unreachable' } } },
  'POST /api/v2/generate': {
    200: generation,
    402: { error: 'insufficient_tokens', message: 'insufficient tokens: gpt-5-nano costs 1', details: { required: 1, model: 'gpt-5-nano' } },
    422: { error: 'validation_error', message: 'temperature: Too big: expected number to be <=2', details: { fields: [{ path: 'temperature', message: 'Too big: expected number to be <=2' }] } },
  },
  'POST /api/v2/generate/stream': { 200: sseText },
  'GET /api/v2/generate/:id/stream': { 200: sseText },
  'GET /api/v2/generate/:id': { 200: generation, 404: { error: 'not_found', message: 'generation 99 not found', details: { generation_id: 99 } } },
  'GET /api/v2/generate/status/:id': { 200: generation },
  'GET /api/v2/user/webhook-secret': { 200: { exists: true, prefix: 'whsec_3fa9', created_at: '2026-12-01T12:00:00.000Z' } },
  'POST /api/v2/user/webhook-secret': { 201: { secret: 'whsec_3fa9EXAMPLEEXAMPLEEXAMPLEEXAMPLE', prefix: 'whsec_3fa9', created_at: '2026-12-01T12:00:00.000Z' } },
  'POST /api/v2/generate/:id/cancel': { 200: { ...generation, status: 'failed', error: 'cancelled', tokens_spent: 0, tokens_used: 0 } },
  'GET /api/v2/models': { 200: { models: [model], total: 1 } },
  'GET /api/v2/models/:slug': { 200: model },
  'POST /api/v2/models/:slug/calculate-price': { 200: { token_cost: 2, min_token_cost: 1, max_token_cost: 1, pricing_type: 'fixed', count: 2 } },
  'GET /api/v2/balance': { 200: { token_balance: 98, plan: 'pro', plan_expires_at: null } },
  'GET /api/v2/user/balance': { 200: { plan: 'pro', token_balance: 98, plan_tokens_remaining: 98, bonus_tokens: 0, plan_expires_at: null, next_refill_at: null } },
  'POST /api/v2/keys': { 201: { ...key, key: 'nb_Q3xvEXAMPLExxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' } },
  'GET /api/v2/keys': {
    200: {
      keys: [
        { ...key, id: 1, name: 'default', prefix: 'nb_ER4l…', display_prefix: 'nb_ER4l…', last_used_at: done, current: true },
        { ...key, last_used_at: null, current: false },
      ],
      total: 2,
    },
  },
  'PATCH /api/v2/keys/:id': { 200: { ...key, name: 'ci', last_used_at: null } },
  'GET /api/v2/user/me': { 200: profile },
  'PATCH /api/v2/user/me': { 200: profile },
  'GET /api/v2/user/history': {
    200: {
      items: [
        {
          id: 1842,
          model_slug: 'gpt-5-nano',
          model: 'gpt-5-nano',
          model_name: 'GPT-5 Nano',
          category: 'text',
          type: 'text',
          prompt: 'Write a haiku about the sea',
          status: 'completed',
          result_text: generation.result_text,
          content: generation.result_text,
          result_url: null,
          url: null,
          thumbnail_url: null,
          result_metadata: { finish_reason: 'stop' },
          finish_reason: 'stop',
          error: null,
          tokens_spent: 1,
          tokens_used: 1,
          is_favorited: false,
          user_rating: null,
          created_at: at,
          completed_at: done,
        },
      ],
      total: 42,
      page: 1,
      limit: 1,
      pages: 42,
      next_cursor: 'ZzoxODQy',
    },
  },
  'GET /api/v2/user/usage': { 200: { days: 7, from: '2026-04-28', rows: [{ day: '2026-05-04', model_slug: 'gpt-5-nano', tokens_spent: 2, requests: 2 }] } },
  'GET /v1/models': {
    200: {
      object: 'list',
      data: [
        { id: 'gpt-5-nano', object: 'model', created: 0, owned_by: 'OpenAI' },
        { id: 'claude-haiku-4.5', object: 'model', created: 0, owned_by: 'Anthropic' },
      ],
    },
  },
  'GET /v1/models/:model': { 200: { id: 'gpt-5-nano', object: 'model', created: 0, owned_by: 'OpenAI' } },
  'POST /v1/chat/completions': {
    200: {
      id: 'gen-1845',
      object: 'chat.completion',
      created: 1777887012,
      model: 'gpt-5-nano',
      choices: [{ index: 0, message: { role: 'assistant', content: 'It is 21 °C and sunny in Paris.', refusal: null }, logprobs: null, finish_reason: 'stop' }],
      usage: { prompt_tokens: 61, completion_tokens: 12, total_tokens: 73, prompt_tokens_details: { cached_tokens: 0 }, completion_tokens_details: { reasoning_tokens: 0 } },
      lumengate,
    },
    401: { error: { message: 'Invalid or revoked API key', type: 'authentication_error', code: 'not_authenticated', param: null, details: {} } },
  },
  'POST /v1/responses': {
    200: {
      id: 'resp_1846',
      object: 'response',
      created_at: 1777887013,
      status: 'completed',
      error: null,
      incomplete_details: null,
      model: 'gpt-5-nano',
      output: [{ id: 'msg_1846', type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: 'It is 21 °C and sunny in Paris.', annotations: [], logprobs: [] }] }],
      usage: { input_tokens: 40, input_tokens_details: { cached_tokens: 0 }, output_tokens: 12, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: 52 },
      previous_response_id: 'resp_42',
      lumengate: { ...lumengate, generation_id: 1846, balance_remaining: 96 },
    },
  },
  'POST /v1/images/generations': {
    200: {
      created: 1777887014,
      data: [{ url: 'https://api.example.com/files/1848/output.png?expires=1777973414&sig=3b1f0c…' }],
      output_format: 'png',
      size: '1024x1024',
      lumengate: { ...lumengate, generation_id: 1848, tokens_spent: 5, balance_remaining: 90 },
    },
  },
  'POST /api/v2/stt': {
    200: {
      ...generation,
      id: 1848,
      model_slug: 'whisper',
      model: 'whisper',
      result_text: 'The quick brown fox jumps over the lazy dog.',
      content: 'The quick brown fox jumps over the lazy dog.',
      tokens_spent: 2,
      tokens_used: 2,
      balance_remaining: 93,
      result_metadata: null,
      usage: null,
    },
  },
  'POST /v1/audio/transcriptions': { 200: { text: 'The quick brown fox jumps over the lazy dog.' } },
  'POST /v1/embeddings': {
    200: {
      object: 'list',
      model: 'text-embedding-3-small',
      data: [
        { object: 'embedding', index: 0, embedding: [0.0123, -0.0441, 0.0087] },
        { object: 'embedding', index: 1, embedding: [-0.021, 0.0315, 0.0502] },
      ],
      usage: { prompt_tokens: 4, total_tokens: 4 },
      lumengate: { ...lumengate, generation_id: 1847, balance_remaining: 95 },
    },
  },
};
