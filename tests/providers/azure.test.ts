// The Azure OpenAI adapter: the provider contract over Azure's wire fake, and what only Azure does.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig, type Deployment } from '../../functions/complete/config.ts';
import { APIError } from 'openai';
import { AZURE_DEFAULT_API_VERSION, azure, contentFilterRefusal } from '../../functions/complete/providers/azure.ts';
import { ProviderError } from '../../functions/complete/providers/failure.ts';
import type { StreamPiece } from '../../functions/complete/providers/provider.ts';
import { FakeProvider, PROVIDER_ERROR_TEXT } from '../fakes/provider-server.ts';
import { runProviderContract } from './contract.ts';
import { expectSdkBuiltRequestsReused } from './request-reuse.ts';

runProviderContract({
  kind: 'azure',
  descriptor: azure,
  model: 'azure/my-gpt-4o',
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
    {
      name: 'a 400 content_filter, ResponsibleAIPolicyViolation (its message is not passed on)',
      behaviour: { status: 400, contentFilter: true },
      content: '',
    },
    {
      name: 'a 400 content_filter without an inner error',
      behaviour: { status: 400, contentFilter: 'code only' },
      content: '',
    },
  ],
  streaming: {
    refusals: [
      {
        name: 'delta.refusal',
        behaviour: { refusal: "I'm sorry, I can't." },
        pieces: ["I'm ", 'sorry, ', 'I ', "can't."].map((text) => ({ type: 'refusal' as const, text })),
      },
      // Azure refuses the prompt before any stream begins: the refusal is the end piece alone.
      {
        name: 'a 400 content_filter, ResponsibleAIPolicyViolation, before the stream',
        behaviour: { status: 400, contentFilter: true },
        pieces: [],
      },
      {
        name: 'a 400 content_filter without an inner error',
        behaviour: { status: 400, contentFilter: 'code only' },
        pieces: [],
      },
    ],
  },
  rateLimitResets: {
    headers: () => ({
      'x-ratelimit-reset-requests': '6m0s',
      'x-ratelimit-remaining-requests': '0',
      'x-ratelimit-reset-tokens': '20ms',
      'x-ratelimit-remaining-tokens': '4000',
    }),
    waitMs: [360_000, 360_000],
  },
  contextLengthErrors: [
    { name: 'a 400 context_length_exceeded', behaviour: { status: 400, errorCode: 'context_length_exceeded' } },
  ],
});

/** A deployment of `azure/<name>` as the configuration builds it, with the API version set by hand. */
function deploymentAt(endpoint: string, model: string, apiVersion?: string): Deployment {
  const file = { model_list: [{ model_name: 'g', litellm_params: { model, api_base: endpoint } }] };
  const deployment = buildConfig(file, {}).config.deployments[0]!;
  return { ...deployment, params: { ...deployment.params, ...(apiVersion !== undefined && { apiVersion }) } };
}

describe('azure: the request is the one Azure OpenAI expects', () => {
  const fake = new FakeProvider('azure');
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  afterEach(() => fake.reset());

  async function sent(deployment: Deployment, key = 'azure-key'): Promise<FakeProvider['requests'][number]> {
    await azure.create(deployment, key).complete({
      model: deployment.model,
      messages: [{ role: 'user', content: 'Hi' }],
      maxTokens: 9,
      signal: new AbortController().signal,
    });
    return fake.requests.at(-1)!;
  }

  it('posts to the deployment under the endpoint with the api-version, the key in api-key and no bearer', async () => {
    const request = await sent(deploymentAt(fake.url, 'azure/prod-gpt-4o', '2024-10-21'));
    expect(request.path).toBe('/openai/deployments/prod-gpt-4o/chat/completions?api-version=2024-10-21');
    expect(request.headers['api-key']).toBe('azure-key');
    expect(request.headers).not.toHaveProperty('authorization');
  });

  it("uses LiteLLM's default API version when the deployment names none", async () => {
    const request = await sent(deploymentAt(`${fake.url}/`, 'azure/prod-gpt-4o'));
    expect(request.path).toBe(
      `/openai/deployments/prod-gpt-4o/chat/completions?api-version=${AZURE_DEFAULT_API_VERSION}`,
    );
  });

  it('sends max_completion_tokens, never max_tokens, although api_base comes from the file', async () => {
    const { body } = await sent(deploymentAt(fake.url, 'azure/o3-mini', '2024-12-01-preview'));
    expect(body.max_completion_tokens).toBe(9);
    expect(body).not.toHaveProperty('max_tokens');
  });

  it('sends the same path, headers and body on every call as on the first (the SDK-built) ones', async () => {
    const deployment = deploymentAt(fake.url, 'azure/prod-gpt-4o', '2024-10-21');
    const provider = azure.create(deployment, 'key-1');
    await expectSdkBuiltRequestsReused(provider, fake, {
      model: deployment.model,
      sentModel: 'prod-gpt-4o',
      maxTokensField: 'max_completion_tokens',
    });
    expect(fake.requests[4]!.headers['api-key']).toBe('key-1');
  });

  it('is not moved by the variables the SDK would read (OPENAI_BASE_URL, AZURE_OPENAI_ENDPOINT)', async () => {
    const saved = { base: process.env.OPENAI_BASE_URL, endpoint: process.env.AZURE_OPENAI_ENDPOINT };
    process.env.OPENAI_BASE_URL = 'http://127.0.0.1:9/v1';
    process.env.AZURE_OPENAI_ENDPOINT = 'http://127.0.0.1:9';
    try {
      const request = await sent(deploymentAt(fake.url, 'azure/prod-gpt-4o', '2024-10-21'));
      expect(request.path).toBe('/openai/deployments/prod-gpt-4o/chat/completions?api-version=2024-10-21');
    } finally {
      for (const [name, value] of [
        ['OPENAI_BASE_URL', saved.base],
        ['AZURE_OPENAI_ENDPOINT', saved.endpoint],
      ] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe('azure: a deployment needs its resource endpoint', () => {
  it('asks for api_base when the file gives none, naming the field at load', () => {
    const file = { model_list: [{ model_name: 'g', litellm_params: { model: 'azure/prod-gpt-4o' } }] };
    expect(() => buildConfig(file, {})).toThrow(/model_list\[0\]\.litellm_params\.api_base: .*resource endpoint/);
  });

  it('accepts a deployment with api_base and without api_version', () => {
    expect(azure.check?.(deploymentAt('https://my-resource.openai.azure.com', 'azure/prod-gpt-4o'))).toBeUndefined();
  });

  it('has no built-in price', () => {
    expect(azure.pricePerMTok('gpt-4o')).toBeUndefined();
  });
});

describe('azure: only its content-filter 400 is a refusal', () => {
  const error = (status: number, body: object) => APIError.generate(status, { error: body }, undefined, new Headers());
  const refusal = {
    content: '',
    usage: { prompt_tokens: null, completion_tokens: null },
    finishReason: 'content_filter',
  };

  it('reads the policy from the inner error alone', () => {
    expect(contentFilterRefusal(error(400, { innererror: { code: 'ResponsibleAIPolicyViolation' } }))).toEqual(refusal);
  });

  it.each([
    ['another 400', error(400, { code: 'invalid_request_error', message: 'content_filter' })],
    ['a content_filter code on a status other than 400', error(500, { code: 'content_filter' })],
    ["an error that is not the SDK's", Object.assign(new Error('x'), { status: 400, code: 'content_filter' })],
  ])('is no refusal for %s', (_name, err) => {
    expect(contentFilterRefusal(err)).toBeUndefined();
  });
});

describe('azure: its content-filter 400 on a streamed request is a refusal, as on a whole one', () => {
  const fake = new FakeProvider('azure');
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  afterEach(() => fake.reset());

  /** The pieces one streamed call gives, or the failure that ended it. */
  async function streamed(): Promise<StreamPiece[] | ProviderError> {
    const deployment = deploymentAt(fake.url, 'azure/prod-gpt-4o', '2024-10-21');
    const pieces: StreamPiece[] = [];
    try {
      const stream = azure.create(deployment, 'azure-key').stream({
        model: deployment.model,
        messages: [{ role: 'user', content: 'Hi' }],
        signal: new AbortController().signal,
      });
      for await (const piece of stream) pieces.push(piece);
    } catch (err) {
      if (err instanceof ProviderError) return err;
      throw err;
    }
    return pieces;
  }

  it("ends the stream with content_filter and unknown usage, none of Azure's message in any piece", async () => {
    fake.next({ status: 400, contentFilter: true });
    const pieces = await streamed();
    expect(pieces).toEqual([
      { type: 'end', finishReason: 'content_filter', usage: { prompt_tokens: null, completion_tokens: null } },
    ]);
    expect(JSON.stringify(pieces)).not.toContain(PROVIDER_ERROR_TEXT);
    expect(fake.requests[0]!.body.stream).toBe(true);
  });

  it('keeps any other 400 on a streamed request a rejection', async () => {
    fake.next({ status: 400, errorCode: 'invalid_request_error' });
    const failure = await streamed();
    expect(failure).toBeInstanceOf(ProviderError);
    expect((failure as ProviderError).info).toMatchObject({ kind: 'rejected', status: 400 });
  });
});
