// The OpenAI adapter: the provider contract over the OpenAI wire fake, and what only OpenAI does.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../functions/complete/config.ts';
import { openai } from '../../functions/complete/providers/openai.ts';
import { FakeProvider } from '../fakes/provider-server.ts';
import { runProviderContract } from './contract.ts';
import { expectSdkBuiltRequestsReused } from './request-reuse.ts';

runProviderContract({
  kind: 'openai',
  descriptor: openai,
  model: 'openai/gpt-4o',
  requestIds: true,
  otherStopReason: 'tool_calls',
  refusals: [
    {
      name: 'message.refusal',
      behaviour: { refusal: "I'm sorry, I can't help with that." },
      content: "I'm sorry, I can't help with that.",
    },
    { name: 'finish_reason content_filter', behaviour: { content: null, stopReason: 'content_filter' }, content: '' },
    {
      name: 'finish_reason content_filter after some text',
      behaviour: { content: 'Partial', stopReason: 'content_filter' },
      content: 'Partial',
    },
  ],
  rateLimitResets: {
    headers: () => ({
      'x-ratelimit-reset-requests': '6m0s',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-tokens': '20ms',
      'x-ratelimit-remaining-tokens': '4000',
    }),
    waitMs: [360_000, 360_000],
  },
  quotaErrors: [
    {
      name: 'a 429 insufficient_quota',
      behaviour: { status: 429, errorCode: 'insufficient_quota', errorType: 'insufficient_quota' },
    },
  ],
  streaming: {
    refusals: [
      {
        name: 'delta.refusal',
        behaviour: { refusal: "I'm sorry, I can't." },
        pieces: [
          { type: 'refusal', text: "I'm " },
          { type: 'refusal', text: 'sorry, ' },
          { type: 'refusal', text: 'I ' },
          { type: 'refusal', text: "can't." },
        ],
      },
      {
        name: 'finish_reason content_filter after some text',
        behaviour: { content: 'Partial', stopReason: 'content_filter' },
        pieces: [{ type: 'content', text: 'Partial' }],
      },
    ],
    errorEvents: [
      ['server_error', 'retryable'],
      ['rate_limit_exceeded', 'rate_limited'],
      ['invalid_request_error', 'rejected'],
    ],
  },
  contextLengthErrors: [
    { name: 'a 400 context_length_exceeded', behaviour: { status: 400, errorCode: 'context_length_exceeded' } },
    {
      name: "a compatible server's 400 that names the maximum context length",
      behaviour: { status: 400, errorMessage: "This model's maximum context length is 4096 tokens." },
    },
  ],
});

describe('openai: the max tokens parameter', () => {
  const fake = new FakeProvider('openai');
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  afterEach(() => fake.reset());

  async function sent(litellmParams: Record<string, string>, env: Record<string, string> = {}) {
    const file = { model_list: [{ model_name: 'g', litellm_params: { model: 'openai/o3-mini', ...litellmParams } }] };
    const deployment = buildConfig(file, env).config.deployments[0]!;
    const provider = openai.create(deployment, 'key');
    await provider.complete({
      model: deployment.model,
      messages: [{ role: 'user', content: 'Hi' }],
      maxTokens: 9,
      signal: new AbortController().signal,
    });
    return fake.requests.at(-1)!.body;
  }

  it('sends OpenAI max_completion_tokens, never max_tokens', async () => {
    const body = await sent({}, { OPENAI_BASE_URL: fake.url });
    expect(body.max_completion_tokens).toBe(9);
    expect(body).not.toHaveProperty('max_tokens');
  });

  it('streams with max_completion_tokens too, asking for the usage chunk', async () => {
    const file = { model_list: [{ model_name: 'g', litellm_params: { model: 'openai/o3-mini' } }] };
    const deployment = buildConfig(file, { OPENAI_BASE_URL: fake.url }).config.deployments[0]!;
    const pieces = openai.create(deployment, 'key').stream({
      model: deployment.model,
      messages: [{ role: 'user', content: 'Hi' }],
      maxTokens: 9,
      signal: new AbortController().signal,
    });
    for await (const _ of pieces);
    const body = fake.requests.at(-1)!.body;
    expect(body).toMatchObject({ stream: true, stream_options: { include_usage: true }, max_completion_tokens: 9 });
    expect(body).not.toHaveProperty('max_tokens');
  });

  it('sends an OpenAI-compatible server named by api_base in the file max_tokens', async () => {
    const body = await sent({ api_base: fake.url });
    expect(body.max_tokens).toBe(9);
    expect(body).not.toHaveProperty('max_completion_tokens');
  });
});

describe('openai: requests built once and reused are the requests the SDK builds', () => {
  const fake = new FakeProvider('openai');
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  afterEach(() => fake.reset());

  it('sends the same path, headers and body on every call as on the first (the SDK-built) ones', async () => {
    const file = { model_list: [{ model_name: 'g', litellm_params: { model: 'openai/gpt-4o', api_base: fake.url } }] };
    const deployment = buildConfig(file, {}).config.deployments[0]!;
    const provider = openai.create(deployment, 'key-1');
    await expectSdkBuiltRequestsReused(provider, fake, {
      model: deployment.model,
      sentModel: 'gpt-4o',
      maxTokensField: 'max_tokens',
    });
    expect(fake.requests[4]!.headers.authorization).toBe('Bearer key-1');
  });
});
