// What `POST /v1/chat/completions` refuses, and how: OpenAI-shaped 400s that name the parameter, before any provider
// is called; the neutral values clients send by default pass; `/complete` and `/health` keep their own shapes.
import { beforeAll, describe, expect, it } from 'vitest';
import { useFakeProviders } from '../fakes/provider-server.ts';
import { completeFunction } from '../helpers/function-url.ts';

const fakes = useFakeProviders();
let fn: ReturnType<typeof completeFunction>;
beforeAll(() => {
  fn = completeFunction(fakes);
});

const TENANT = { 'x-konstruct-tenant': 'acme' };
const valid = { model: 'fast', messages: [{ role: 'user', content: 'Hi' }] };

const chat = (body: unknown, opts: { raw?: boolean; headers?: Record<string, string> } = {}) =>
  fn.invoke('POST', '/v1/chat/completions', body, { ...opts, headers: opts.headers ?? TENANT });

/** An OpenAI error body: exactly its four fields (plus the attempts of a 503). */
function expectOpenAiError(body: Record<string, unknown>, fields: Record<string, unknown>) {
  expect(Object.keys(body)).toEqual(['error']);
  expect(body.error).toEqual({
    message: expect.any(String),
    type: 'invalid_request_error',
    param: null,
    code: null,
    ...fields,
  });
}

describe('bodies that are not a chat request are 400 invalid_request_error', () => {
  it.each([
    ['malformed JSON', '{"model": "fast",', /not valid JSON/, null],
    ['an empty body', '  ', /empty/, null],
    ['a JSON array', '[]', /JSON object/, 'invalid_type'],
    ['null', 'null', /JSON object/, 'invalid_type'],
  ])('refuses %s', async (_name, raw, message, code) => {
    const res = await chat(raw, { raw: true });
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/json');
    expectOpenAiError(res.body, { code });
    expect(res.body.error.message).toMatch(message);
  });

  it('answers 413 request_too_large over 1 MiB, before reading it', async () => {
    const res = await chat({ ...valid, messages: [{ role: 'user', content: 'x'.repeat(1024 * 1024) }] });
    expect(res.status).toBe(413);
    expectOpenAiError(res.body, { code: 'request_too_large' });
  });
});

describe('each field the router cannot take is a 400 that names it in param', () => {
  it.each([
    ['model missing', { model: undefined }, 'model', 'missing_required_parameter'],
    ['messages missing', { messages: undefined }, 'messages', 'missing_required_parameter'],
    ['model not a string', { model: 5 }, 'model', 'invalid_type'],
    ['messages not an array', { messages: 'Hi' }, 'messages', 'invalid_type'],
    ['messages empty', { messages: [] }, 'messages', 'invalid_value'],
    ['only system messages', { messages: [{ role: 'developer', content: 'Be terse.' }] }, 'messages', 'invalid_value'],
    ['a tool message', { messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role', 'invalid_value'],
    ['content a number', { messages: [{ role: 'user', content: 5 }] }, 'messages[0].content', 'invalid_type'],
    ['content parts empty', { messages: [{ role: 'user', content: [] }] }, 'messages[0].content', 'invalid_value'],
    [
      'an image part',
      {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'What is this?' },
              { type: 'image_url', image_url: { url: 'https://example.com/a.png' } },
            ],
          },
        ],
      },
      'messages[0].content[1].type',
      'unsupported_value',
    ],
    [
      'an audio part',
      { messages: [{ role: 'user', content: [{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }] }] },
      'messages[0].content[0].type',
      'unsupported_value',
    ],
    [
      'a text part without text',
      { messages: [{ role: 'user', content: [{ type: 'text' }] }] },
      'messages[0].content[0].text',
      'missing_required_parameter',
    ],
    [
      'a message name',
      { messages: [{ role: 'user', content: 'x', name: 'bob' }] },
      'messages[0].name',
      'unknown_parameter',
    ],
    ['an unknown key', { max_token: 5 }, 'max_token', 'unknown_parameter'],
    ['timeout_ms in the body (it is a header here)', { timeout_ms: 5000 }, 'timeout_ms', 'unknown_parameter'],
    ['max_tokens 0', { max_tokens: 0 }, 'max_tokens', 'invalid_value'],
    ['max_completion_tokens as a string', { max_completion_tokens: '5' }, 'max_completion_tokens', 'invalid_type'],
    [
      'max_tokens and max_completion_tokens that differ',
      { max_tokens: 5, max_completion_tokens: 6 },
      'max_tokens',
      'invalid_value',
    ],
    ['temperature above 2', { temperature: 2.5 }, 'temperature', 'invalid_value'],
    ['tools', { tools: [{ type: 'function', function: { name: 'f' } }] }, 'tools', 'unsupported_parameter'],
    ['tool_choice', { tool_choice: 'auto' }, 'tool_choice', 'unsupported_parameter'],
    ['n: 2', { n: 2 }, 'n', 'unsupported_value'],
    ['stream as a string', { stream: 'true' }, 'stream', 'invalid_type'],
    [
      'stream_options.include_usage not a boolean',
      { stream: true, stream_options: { include_usage: 'yes' } },
      'stream_options.include_usage',
      'invalid_type',
    ],
    ['stream_options not an object', { stream: true, stream_options: true }, 'stream_options', 'invalid_type'],
    ['stream_options without stream', { stream_options: { include_usage: true } }, 'stream_options', 'invalid_value'],
    [
      'stream_options with stream: false',
      { stream: false, stream_options: { include_usage: true } },
      'stream_options',
      'invalid_value',
    ],
    [
      'response_format json_object',
      { response_format: { type: 'json_object' } },
      'response_format',
      'unsupported_value',
    ],
    ['logprobs: true', { logprobs: true }, 'logprobs', 'unsupported_value'],
    ['top_logprobs', { top_logprobs: 2 }, 'top_logprobs', 'unsupported_parameter'],
    ['top_p other than 1', { top_p: 0.9 }, 'top_p', 'unsupported_value'],
    ['stop sequences', { stop: ['END'] }, 'stop', 'unsupported_value'],
    ['a frequency penalty', { frequency_penalty: 0.5 }, 'frequency_penalty', 'unsupported_value'],
    [
      'stream_options with an unknown key',
      { stream: true, stream_options: { foo: 1 } },
      'stream_options.foo',
      'unknown_parameter',
    ],
    ['metadata values not strings', { metadata: { a: 1 } }, 'metadata.a', 'invalid_type'],
  ])('refuses %s', async (_name, patch, param, code) => {
    const res = await chat({ ...valid, ...patch });
    expect(res.status).toBe(400);
    expectOpenAiError(res.body, { param, code });
    expect(res.body.error.message).toContain(
      param
        .split('.')
        .at(-1)!
        .replace(/\[\d+\]$/, ''),
    );
    expect(fakes.ollama.count).toBe(0);
  });

  it('refuses a hostile __proto__ key instead of merging it', async () => {
    const res = await chat('{"model":"fast","messages":[{"role":"user","content":"x"}],"__proto__":{"n":2}}', {
      raw: true,
    });
    expect(res.status).toBe(400);
    expectOpenAiError(res.body, { param: '__proto__', code: 'unknown_parameter' });
  });
});

describe('the tenant and timeout headers follow the /complete rules', () => {
  it.each([
    ['a tenant header with hostile characters', { 'x-konstruct-tenant': "t'; DROP TABLE x; --" }, 'x-konstruct-tenant'],
    ['a tenant header of 129 characters', { 'x-konstruct-tenant': 'a'.repeat(129) }, 'x-konstruct-tenant'],
    ['a timeout below 100 ms', { ...TENANT, 'x-konstruct-timeout-ms': '99' }, 'x-konstruct-timeout-ms'],
    ['a timeout above 900000 ms', { ...TENANT, 'x-konstruct-timeout-ms': '900001' }, 'x-konstruct-timeout-ms'],
    ['a timeout that is not a number', { ...TENANT, 'x-konstruct-timeout-ms': '1e4' }, 'x-konstruct-timeout-ms'],
  ])('refuses %s, naming the header', async (_name, headers, param) => {
    const res = await chat(valid, { headers });
    expect(res.status).toBe(400);
    expectOpenAiError(res.body, { param, code: 'invalid_value' });
    expect(fakes.ollama.count).toBe(0);
  });

  it('refuses a user that is not a valid tenant when there is no header', async () => {
    const res = await chat({ ...valid, user: 'who are you?' }, { headers: {} });
    expect(res.status).toBe(400);
    expectOpenAiError(res.body, { param: 'user', code: 'invalid_value' });
  });
});

describe('neutral values clients send by default are accepted', () => {
  it('answers a request carrying every neutral default', async () => {
    const res = await chat({
      ...valid,
      n: 1,
      frequency_penalty: 0,
      presence_penalty: 0,
      logprobs: false,
      top_logprobs: null,
      top_p: 1,
      stop: null,
      stream: false,
      stream_options: null,
      parallel_tool_calls: true,
      response_format: { type: 'text' },
      tools: null,
      store: false,
      temperature: null,
      max_tokens: null,
      metadata: { run: 'nightly' },
      user: 'someone',
    });
    expect(res.status).toBe(200);
    expect(res.body.object).toBe('chat.completion');
    expect(fakes.ollama.count).toBe(1);
  });
});

describe('paths and methods', () => {
  it('answers 405 in OpenAI shape with an Allow header for a wrong method', async () => {
    const res = await fn.invoke('GET', '/v1/chat/completions');
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expectOpenAiError(res.body, { code: 'method_not_allowed' });
    expect((await fn.invoke('POST', '/v1/models', {})).headers.allow).toBe('GET');
  });

  it('keeps /complete in its own error shape', async () => {
    const res = await fn.invoke('POST', '/complete', { model: 'fast' });
    expect(res.status).toBe(400);
    expect(typeof res.body.error).toBe('string');
    expect(res.body.details).toBeDefined();
  });
});
