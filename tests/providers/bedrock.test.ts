// The Bedrock adapter: the provider contract over the Converse wire fake, and what only Bedrock does.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig, type Deployment } from '../../functions/complete/config.ts';
import { bedrock, bedrockOptionsOf, bedrockProvider } from '../../functions/complete/providers/bedrock.ts';
import { ProviderError, type FailureInfo } from '../../functions/complete/providers/failure.ts';
import type { ProviderCall, StreamPiece } from '../../functions/complete/providers/provider.ts';
import { BEDROCK_ERROR_STATUS, FakeBedrock, type BedrockRequest } from '../fakes/bedrock-server.ts';
import { PROVIDER_ERROR_TEXT, type Behaviour } from '../fakes/provider-server.ts';
import { runProviderContract } from './contract.ts';

/** Static dummy credentials: the descriptor's client takes the SDK's default chain, these keep the test hermetic. */
const CREDENTIALS = { accessKeyId: 'AKIDBEDROCKTEST', secretAccessKey: 'bedrock-test-secret' };
const MODEL_ID = 'us.anthropic.claude-sonnet-4-20250514-v1:0';

const contractFake = new FakeBedrock();

runProviderContract({
  fake: contractFake,
  descriptor: bedrock,
  model: `bedrock/${MODEL_ID}`,
  // The endpoint is explicit (the fake's, through the deployment), never AWS_ENDPOINT_URL, which the test
  // setup points at the SQS emulator for every other client.
  create: (deployment) => bedrockProvider({ ...bedrockOptionsOf(deployment), credentials: CREDENTIALS }),
  // Bedrock names the model in the path (`/model/{modelId}/converse`), not in the body.
  requestedModel: (request) => (request as BedrockRequest).modelId,
  // AWS documents no Retry-After on Bedrock's ThrottlingException and no x-should-retry header (a
  // Stainless SDK convention): a 429 cools the deployment down for cooldown_time, as the router does for
  // any 429 without one. The status and type of each error are checked below instead.
  retryHeaders: false,
  requestIds: true,
  otherStopReason: 'tool_use',
  refusals: [
    {
      name: 'guardrail_intervened, with the blocked message of the guardrail',
      behaviour: { refusal: 'Sorry, the model cannot answer this question.' },
      content: 'Sorry, the model cannot answer this question.',
    },
    {
      name: 'content_filtered with no content',
      behaviour: { content: null, stopReason: 'content_filtered' },
      content: '',
    },
  ],
  streaming: {
    // ConverseStream is its own operation (`/model/{modelId}/converse-stream`); the body says nothing of it.
    streamedRequest: (request) => (request as BedrockRequest).streamed,
    // A guardrail's blocked message streams as content; only the stop reason says it was a refusal.
    refusals: [
      {
        name: 'guardrail_intervened, with the blocked message of the guardrail',
        behaviour: { refusal: 'Sorry, the model cannot answer this question.' },
        pieces: ['Sorry, ', 'the ', 'model ', 'cannot ', 'answer ', 'this ', 'question.'].map((text) => ({
          type: 'content' as const,
          text,
        })),
      },
      {
        name: 'content_filtered with no content',
        behaviour: { content: null, stopReason: 'content_filtered' },
        pieces: [],
      },
    ],
    // The exception events of ConverseStream, by their AWS type, classified as their HTTP statuses are.
    errorEvents: [
      ['ThrottlingException', 'rate_limited'],
      ['ModelStreamErrorException', 'retryable'],
      ['ValidationException', 'rejected'],
      ['InternalServerException', 'retryable'],
      ['ServiceUnavailableException', 'retryable'],
    ],
  },
  contextLengthErrors: [
    {
      name: 'a ValidationException that says the input is too long',
      behaviour: { status: 400, errorMessage: 'Input is too long for requested model.' },
    },
    {
      name: 'a ValidationException that says the prompt is too long',
      behaviour: { status: 400, errorMessage: 'prompt is too long: 210000 tokens > 200000 maximum' },
    },
  ],
});

describe('bedrock: each AWS error type keeps its class', () => {
  const fake = new FakeBedrock();
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  afterEach(() => fake.reset());

  async function failure(errorCode: string, errorMessage?: string): Promise<FailureInfo> {
    fake.next({ errorCode, errorMessage });
    const provider = bedrockProvider({ region: 'us-east-1', endpoint: fake.url, credentials: CREDENTIALS });
    const err = await provider
      .complete({ model: MODEL_ID, messages: [{ role: 'user', content: 'Hi' }], signal: new AbortController().signal })
      .then(
        () => expect.unreachable('the call answered'),
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(ProviderError);
    expect(JSON.stringify((err as ProviderError).info) + (err as ProviderError).message).not.toContain(
      PROVIDER_ERROR_TEXT,
    );
    return (err as ProviderError).info;
  }

  it.each([
    ['ThrottlingException', 'rate_limited'],
    // A 400 on the wire, but AWS says to resubmit later: it clears by waiting, like a rate limit.
    ['ServiceQuotaExceededException', 'rate_limited'],
    ['AccessDeniedException', 'auth'],
    ['UnrecognizedClientException', 'auth'],
    ['ExpiredTokenException', 'auth'],
    ['ValidationException', 'rejected'],
    ['ResourceNotFoundException', 'not_found'],
    // A 429 on the wire: the model is loading, not a rate limit.
    ['ModelNotReadyException', 'retryable'],
    ['ModelTimeoutException', 'retryable'],
    ['ModelErrorException', 'retryable'],
    ['InternalServerException', 'retryable'],
    ['ServiceUnavailableException', 'retryable'],
  ] as const)('%s (its AWS status) is %s, with the type as its code', async (type, kind) => {
    expect(await failure(type)).toMatchObject({ kind, status: BEDROCK_ERROR_STATUS[type], code: type });
  });

  it('does not take a ValidationException about something else for a context-length rejection', async () => {
    const info = await failure('ValidationException', 'temperature: must be less than or equal to 1');
    expect(info.kind).toBe('rejected');
    expect(info.contextLength).toBeUndefined();
  });
});

describe('bedrock: the request on the wire', () => {
  const fake = new FakeBedrock();
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  afterEach(() => fake.reset());

  const signal = new AbortController().signal;
  const call = (over: Partial<ProviderCall> = {}): ProviderCall => ({
    model: MODEL_ID,
    messages: [{ role: 'user', content: 'Hi' }],
    signal,
    ...over,
  });

  it('sends system messages joined, same-role turns merged, max tokens 1024 by default', async () => {
    const provider = bedrockProvider({ region: 'us-east-1', endpoint: fake.url, credentials: CREDENTIALS });
    await provider.complete(
      call({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Hi' },
          { role: 'user', content: 'Still there?' },
          { role: 'system', content: 'Answer in French.' },
        ],
        temperature: 0.2,
      }),
    );
    expect(fake.requests[0]!.body).toEqual({
      system: [{ text: 'Be brief.\n\nAnswer in French.' }],
      messages: [{ role: 'user', content: [{ text: 'Hi\n\nStill there?' }] }],
      inferenceConfig: { maxTokens: 1024, temperature: 0.2 },
    });
    expect(fake.requests[0]!.path).toBe(`/model/${encodeURIComponent(MODEL_ID)}/converse`);
  });

  it('signs with SigV4 for the region of the deployment and the bedrock service', async () => {
    const provider = bedrockProvider({ region: 'eu-west-3', endpoint: fake.url, credentials: CREDENTIALS });
    await provider.complete(call());
    expect(fake.requests[0]!.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDBEDROCKTEST\/\d{8}\/eu-west-3\/bedrock\/aws4_request, SignedHeaders=/,
    );
  });

  it('reaches the api_base of the deployment with its aws_region_name', async () => {
    const deployment = {
      apiBase: fake.url,
      params: { region: 'ap-southeast-2' },
    } satisfies Pick<Deployment, 'apiBase' | 'params'>;
    const provider = bedrockProvider({ ...bedrockOptionsOf(deployment), credentials: CREDENTIALS });
    expect(await provider.complete(call())).toMatchObject({ finishReason: 'stop' });
    expect(fake.requests[0]!.headers.authorization).toContain('/ap-southeast-2/bedrock/aws4_request');
  });

  it('builds the descriptor client from the default credential chain and region when the deployment names none', async () => {
    const file = { model_list: [{ model_name: 'g', litellm_params: { model: `bedrock/${MODEL_ID}` } }] };
    const deployment = buildConfig(file, { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: fake.url }).config.deployments[0]!;
    expect(await bedrock.create(deployment, null).complete(call())).toMatchObject({ finishReason: 'stop' });
    const { AWS_ACCESS_KEY_ID, AWS_REGION } = process.env;
    expect(fake.requests[0]!.headers.authorization).toMatch(
      new RegExp(`Credential=${AWS_ACCESS_KEY_ID}/\\d{8}/${AWS_REGION}/bedrock/aws4_request`),
    );
  });

  it('fails as auth, without calling, when the credential chain finds no credentials', async () => {
    const credentials = async () => {
      // What the SDK's default chain throws when no source has credentials.
      throw Object.assign(new Error('Could not load credentials from any providers'), {
        name: 'CredentialsProviderError',
      });
    };
    const provider = bedrockProvider({ region: 'us-east-1', endpoint: fake.url, credentials });
    await expect(provider.complete(call())).rejects.toMatchObject({ info: { kind: 'auth', code: 'no_credentials' } });
    expect(fake.count).toBe(0);
  });

  it('makes one SDK attempt per call: a 503 is not retried by the SDK', async () => {
    fake.next({ status: 503 }, { status: 503 }, {});
    const provider = bedrockProvider({ region: 'us-east-1', endpoint: fake.url, credentials: CREDENTIALS });
    await expect(provider.complete(call())).rejects.toMatchObject({ info: { kind: 'retryable', status: 503 } });
    expect(fake.count).toBe(1);
  });
});

describe('bedrock: the response body is bounded and read whole, as for every provider', () => {
  const fake = new FakeBedrock();
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  afterEach(() => fake.reset());

  const complete = () =>
    bedrockProvider({ region: 'us-east-1', endpoint: fake.url, credentials: CREDENTIALS }).complete({
      model: MODEL_ID,
      messages: [{ role: 'user', content: 'Hi' }],
      signal: new AbortController().signal,
    });

  it('reads a gzip-encoded answer', async () => {
    fake.next({ content: 'Bonjour', encoding: 'gzip' });
    expect(await complete()).toMatchObject({ content: 'Bonjour', finishReason: 'stop' });
  });

  it('abandons an answer over 8 MiB as a retryable response_too_large', async () => {
    fake.next({ padBytes: 9 * 1024 * 1024 });
    await expect(complete()).rejects.toMatchObject({ info: { kind: 'retryable', code: 'response_too_large' } });
  });

  it('reports an answer cut off mid-body as a retryable response_incomplete', async () => {
    fake.next({ cutAfter: 20 });
    await expect(complete()).rejects.toMatchObject({ info: { kind: 'retryable', code: 'response_incomplete' } });
  });
});

describe('bedrock: what only ConverseStream does', () => {
  const fake = new FakeBedrock();
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  afterEach(() => fake.reset());

  /** The pieces one streamed call gives, and the failure that ended it (checked for provider text), if any. */
  async function read(behaviour: Behaviour): Promise<{ pieces: StreamPiece[]; failure?: FailureInfo }> {
    fake.next(behaviour);
    const provider = bedrockProvider({ region: 'us-east-1', endpoint: fake.url, credentials: CREDENTIALS });
    const pieces: StreamPiece[] = [];
    try {
      const stream = provider.stream({
        model: MODEL_ID,
        messages: [{ role: 'user', content: 'Hi' }],
        signal: new AbortController().signal,
      });
      for await (const piece of stream) pieces.push(piece);
    } catch (err) {
      expect(err).toBeInstanceOf(ProviderError);
      const error = err as ProviderError;
      expect(JSON.stringify(error.info) + error.message + String(error.stack)).not.toContain(PROVIDER_ERROR_TEXT);
      return { pieces, failure: error.info };
    }
    return { pieces };
  }

  it('streams the text deltas only, never the reasoning deltas before them', async () => {
    const { pieces, failure } = await read({
      stream: { reasoning: ['Let me think', ' about it.'], pieces: ['Bon', 'jour'] },
    });
    expect(failure).toBeUndefined();
    expect(pieces.filter((p) => p.type !== 'end')).toEqual([
      { type: 'content', text: 'Bon' },
      { type: 'content', text: 'jour' },
    ]);
  });

  it('classifies an exception event that comes before any content (read while the SDK opens the stream)', async () => {
    const { pieces, failure } = await read({
      stream: { failAfter: { pieces: 0, how: 'error', errorType: 'ThrottlingException' } },
    });
    expect(pieces).toEqual([]);
    expect(failure).toMatchObject({ kind: 'rate_limited', code: 'ThrottlingException' });
    // An event inside a 200 stream: no status the router would read as an HTTP answer.
    expect(failure?.status).toBeUndefined();
  });

  it.each([
    ['a JSON error object', { errorIn200: true }],
    ['an HTML page', { notJson: 'html' }],
  ] as [string, Behaviour][])('fails a 200 that is no event stream (%s) as response_not_json', async (_name, b) => {
    const { pieces, failure } = await read(b);
    expect(pieces).toEqual([]);
    expect(failure).toMatchObject({ kind: 'retryable', code: 'response_not_json' });
  });

  it('sends the request ConverseStream takes to the model in the path', async () => {
    await read({});
    expect(fake.requests[0]!.path).toBe(`/model/${encodeURIComponent(MODEL_ID)}/converse-stream`);
    expect(fake.requests[0]!.body).toEqual({
      messages: [{ role: 'user', content: [{ text: 'Hi' }] }],
      inferenceConfig: { maxTokens: 1024 },
    });
  });
});
