// The official `openai` client against `complete` behind the local Function URL emulator: answers, model list,
// typed errors, tenants and refusals, exactly as an OpenAI application would see them.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../functions/complete/config.ts';
import { serveFunctionUrl } from '../../local/function-url.ts';
import { PROVIDER_ERROR_TEXT, useFakeProviders } from '../fakes/provider-server.ts';
import { completeFunction } from '../helpers/function-url.ts';
import { captureDuring } from '../helpers/log-capture.ts';

/** `quality` is OpenAI alone (so tests know which fake answers), falling back to `fast` (Ollama). */
const CONFIG: ConfigFile = {
  model_list: [
    { model_name: 'quality', litellm_params: { model: 'openai/gpt-4o' } },
    { model_name: 'fast', litellm_params: { model: 'ollama/qwen3:8b' } },
  ],
  router_settings: { fallbacks: [{ quality: ['fast'] }], num_retries: 2 },
};

const fakes = useFakeProviders();
let server: Server | undefined;
let handlerCalls = 0;

/** A fresh `complete` (its own router state) behind the emulator, and an OpenAI client pointed at it. */
async function serve(clientOptions: { maxRetries?: number; defaultHeaders?: Record<string, string> } = {}) {
  const fn = completeFunction(fakes, { config: CONFIG });
  handlerCalls = 0;
  server = serveFunctionUrl(
    (event, context) => {
      handlerCalls++;
      return fn.handler(event, context);
    },
    { functionName: 'complete', timeoutMs: 120_000 },
  );
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return new OpenAI({
    baseURL: `http://127.0.0.1:${port}/v1`,
    apiKey: 'unused-locally',
    defaultHeaders: { 'x-konstruct-tenant': 'acme', ...clientOptions.defaultHeaders },
    maxRetries: clientOptions.maxRetries ?? 2,
  });
}

afterEach(async () => {
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

const hello = [{ role: 'user' as const, content: 'Hello' }];

describe('a plain call answers as a chat.completion', () => {
  it('returns the content, the deployment that answered as model, usage with total_tokens, and the x-konstruct headers', async () => {
    const client = await serve();
    const { data, response } = await client.chat.completions
      .create({ model: 'quality', messages: hello, max_completion_tokens: 50, temperature: 0.3 })
      .withResponse();
    expect(data).toMatchObject({
      object: 'chat.completion',
      model: 'openai/gpt-4o',
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content: 'answer from openai', refusal: null },
          finish_reason: 'stop',
        },
      ],
      usage: { prompt_tokens: 12, completion_tokens: 34, total_tokens: 46 },
    });
    const requestId = response.headers.get('x-request-id');
    expect(data.id).toBe(`chatcmpl-${requestId}`);
    expect(Math.abs(data.created - Date.now() / 1000)).toBeLessThan(60);
    expect(Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('x-konstruct-')))).toEqual({
      'x-konstruct-group': 'quality',
      'x-konstruct-deployment': 'openai/gpt-4o',
      'x-konstruct-fallback': 'false',
      'x-konstruct-attempts': '1',
      'x-konstruct-cost-usd': '0.00037', // 12 × $2.50/M + 34 × $10/M
    });
    expect(fakes.openai.requests[0]!.body).toMatchObject({ max_completion_tokens: 50, temperature: 0.3 });
  });

  it('names the fallback deployment and group when the asked group fails', async () => {
    const client = await serve();
    fakes.openai.always({ status: 500 });
    const { data, response } = await client.chat.completions
      .create({ model: 'quality', messages: hello })
      .withResponse();
    expect(data.model).toBe('ollama/qwen3:8b');
    expect(data.choices[0]!.message.content).toBe('answer from ollama');
    expect(response.headers.get('x-konstruct-group')).toBe('fast');
    expect(response.headers.get('x-konstruct-fallback')).toBe('true');
    expect(response.headers.get('x-konstruct-attempts')).toBe('4');
  });

  it('leaves usage out when a provider sends a count that is not one (OpenAI counts are numbers, never null)', async () => {
    const client = await serve();
    fakes.openai.next({ usage: { input: 12, output: -1 } });
    const completion = await client.chat.completions.create({ model: 'quality', messages: hello });
    expect(completion.choices[0]!.message.content).toBe('answer from openai');
    expect(completion).not.toHaveProperty('usage');
  });

  it('lists the model groups with models.list()', async () => {
    const client = await serve();
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models.map((m) => m.id)).toEqual(['quality', 'fast']);
    for (const model of models) {
      expect(model).toEqual({ id: model.id, object: 'model', created: expect.any(Number), owned_by: 'konstruct' });
    }
  });
});

describe('messages as OpenAI clients send them', () => {
  it('sends developer messages as system and joins text parts', async () => {
    const client = await serve();
    await client.chat.completions.create({
      model: 'quality',
      messages: [
        { role: 'developer', content: 'Be terse.' },
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Hello' },
            { type: 'text', text: 'world' },
          ],
        },
      ],
    });
    expect(fakes.openai.requests[0]!.body.messages).toEqual([
      { role: 'system', content: 'Be terse.' },
      { role: 'user', content: 'Hello\nworld' },
    ]);
  });

  it('answers a refusal with the text in refusal, content null and finish_reason content_filter', async () => {
    const client = await serve();
    fakes.openai.next({ refusal: 'I cannot help with that.' });
    const completion = await client.chat.completions.create({ model: 'quality', messages: hello });
    expect(completion.choices[0]).toMatchObject({
      message: { role: 'assistant', content: null, refusal: 'I cannot help with that.' },
      finish_reason: 'content_filter',
    });
  });
});

describe('the tenant comes from x-konstruct-tenant, else from user', () => {
  async function recordedTenant(run: (client: OpenAI) => Promise<unknown>) {
    const client = await serve();
    const output = await captureDuring(() => run(client));
    const record = output.records().find((r) => r.message === 'completion');
    // The same cost record as for /complete.
    expect(record).toMatchObject({ outcome: 'answered', requested_group: 'fast', deployment: 'ollama/qwen3:8b' });
    return record?.tenant_id;
  }

  it('attributes the call to the header over user', async () => {
    const tenant = await recordedTenant((c) =>
      c.chat.completions.create({ model: 'fast', messages: hello, user: 'someone-else' }),
    );
    expect(tenant).toBe('acme');
  });

  it('attributes the call to user when there is no header', async () => {
    const tenant = await recordedTenant((c) =>
      c.chat.completions.create(
        { model: 'fast', messages: hello, user: 'globex' },
        { headers: { 'x-konstruct-tenant': null } },
      ),
    );
    expect(tenant).toBe('globex');
  });

  it('refuses a call with neither, as BadRequestError', async () => {
    const client = await serve();
    const err = await client.chat.completions
      .create({ model: 'fast', messages: hello }, { headers: { 'x-konstruct-tenant': null } })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as Error).message).toMatch(/x-konstruct-tenant/);
    expect(fakes.ollama.count).toBe(0);
  });
});

describe('errors reach the client as its typed errors', () => {
  it('BadRequestError naming the parameter the router cannot honour', async () => {
    const client = await serve();
    const err = await client.chat.completions.create({ model: 'fast', messages: hello, n: 2 }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ status: 400, param: 'n', type: 'invalid_request_error', code: 'unsupported_value' });
    expect(handlerCalls).toBe(1);
  });

  it('BadRequestError for stream_options without stream, as OpenAI answers', async () => {
    const client = await serve();
    const err = await client.chat.completions
      .create({ model: 'fast', messages: hello, stream_options: { include_usage: true } })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect(err).toMatchObject({ param: 'stream_options', code: 'invalid_value' });
    expect(fakes.ollama.count).toBe(0);
  });

  it('NotFoundError model_not_found for an unknown group, listing the groups', async () => {
    const client = await serve();
    const err = await client.chat.completions.create({ model: 'gpt-4o', messages: hello }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect(err).toMatchObject({ status: 404, code: 'model_not_found', param: 'model' });
    expect(err.message).toMatch(/Known groups: quality, fast/);
  });

  it('APIError 413 for a body over 1 MiB', async () => {
    const client = await serve();
    const big = [{ role: 'user' as const, content: 'x'.repeat(1024 * 1024 + 1) }];
    const err = await client.chat.completions.create({ model: 'fast', messages: big }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err).toMatchObject({ status: 413, code: 'request_too_large' });
    expect(fakes.ollama.count).toBe(0);
  });

  it('503 that the client does not retry (x-should-retry: false): the router has already retried', async () => {
    const client = await serve(); // the client's own default: 2 retries
    fakes.ollama.always({ status: 500 });
    const err = await client.chat.completions.create({ model: 'fast', messages: hello }).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err).toMatchObject({ status: 503, type: 'server_error', code: 'all_providers_unavailable' });
    expect(err.message).toMatch(/All providers unavailable/);
    expect(err.message).not.toContain(PROVIDER_ERROR_TEXT);
    expect(err.headers.get('x-should-retry')).toBe('false');
    expect(err.headers.get('retry-after')).toBeNull();
    expect(handlerCalls).toBe(1);
    expect(fakes.ollama.count).toBe(3); // 1 + num_retries, all inside the one request
  });

  it('503 with Retry-After when a cooldown ends, and no x-should-retry', async () => {
    const client = await serve({ maxRetries: 0 });
    fakes.ollama.always({ status: 429, headers: { 'retry-after': '20' } });
    // A deadline too short to wait out the 429 here: the caller is told when to come back instead.
    const err = await client.chat.completions
      .create({ model: 'fast', messages: hello }, { headers: { 'x-konstruct-timeout-ms': '2000' } })
      .catch((e) => e);
    expect(err).toMatchObject({ status: 503 });
    expect(fakes.ollama.count).toBe(1);
    const retryAfter = Number(err.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThan(20); // the deployment's cooldown (30 s), longer than its own Retry-After
    expect(retryAfter).toBeLessThanOrEqual(30);
    expect(err.headers.get('x-should-retry')).toBeNull();
  });
});
