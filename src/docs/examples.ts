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
