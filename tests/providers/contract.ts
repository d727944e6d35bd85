// The provider contract, written once: every adapter, built from its descriptor and driven over its
// wire fake through the real SDK, must answer, classify failures and keep provider text out the same way.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig, type Deployment } from '../../functions/complete/config.ts';
import { ProviderError, type FailureInfo } from '../../functions/complete/providers/failure.ts';
import type { Provider, ProviderAnswer, ProviderDescriptor } from '../../functions/complete/providers/provider.ts';
import {
  FakeProvider,
  PROVIDER_ERROR_TEXT,
  type Behaviour,
  type WireKind,
  type RecordedRequest,
} from '../fakes/provider-server.ts';

import { runStreamContract, type StreamContract, type StreamFake } from './stream-contract.ts';

/** What the contract needs of a wire fake; `FakeProvider` is one, a fake of another wire format may be another. */
export interface ContractFake
  extends Pick<FakeProvider, 'stop' | 'reset' | 'received' | 'count' | 'url' | 'expectedKey'>, StreamFake {
  start(): Promise<unknown>;
  next(...behaviours: Behaviour[]): unknown;
}

export interface ProviderContract {
  /** The fake that speaks this provider's wire protocol: a `FakeProvider` of this kind, or `fake`. */
  kind?: WireKind;
  fake?: ContractFake;
  /** How a client is built for the contract (default: the descriptor's, with a test key when it takes one). */
  create?: (deployment: Deployment) => Provider;
  /** The model a recorded request asked for (default: the body's `model`). */
  requestedModel?: (request: RecordedRequest) => unknown;
  /** It reads `Retry-After` and `x-should-retry` (default true; false where its API sends neither). */
  retryHeaders?: boolean;
  descriptor: ProviderDescriptor;
  /** A `litellm_params.model` for it, e.g. `openai/gpt-4o`. */
  model: string;
  /** A stop reason of its own that is neither a stop nor a cut (e.g. OpenAI `tool_calls`). */
  otherStopReason: string;
  /** How it refuses, when it can: what the fake sends and the content the answer must carry. */
  refusals?: { name: string; behaviour: Behaviour; content: string }[];
  /** Its rate-limit reset headers for a 429 without Retry-After, and the wait they must give. */
  rateLimitResets?: { headers: (now: number) => Record<string, string>; waitMs: [min: number, max: number] };
  /** Its errors that waiting will not clear. */
  quotaErrors?: { name: string; behaviour: Behaviour }[];
  /** It names each request with an id (a header) worth quoting to its support. */
  requestIds?: boolean;
  /** Its ways of saying the request is too long for the model. */
  contextLengthErrors?: { name: string; behaviour: Behaviour }[];
  /** How it refuses and fails inside a stream. */
  streaming?: Omit<StreamContract, 'name' | 'otherStopReason' | 'retryAfter'>;
}

const KEY = 'contract-test-key';
const HELLO = [{ role: 'user' as const, content: 'Hello' }];

export function runProviderContract(contract: ProviderContract): void {
  const { descriptor } = contract;
  const fake = contract.fake ?? new FakeProvider(contract.kind!);
  let deployment: Deployment;

  beforeAll(async () => {
    await fake.start();
    // A provider without a base-URL variable (Azure) is pointed at its fake by `api_base`, as its file would.
    const variable = descriptor.baseUrlVariable;
    const env = variable ? { [variable]: fake.url } : {};
    const params = { model: contract.model, ...(!variable && { api_base: fake.url }) };
    const file = { model_list: [{ model_name: 'g', litellm_params: params }] };
    deployment = buildConfig(file, env).config.deployments[0]!;
  });
  afterAll(() => fake.stop());
  afterEach(() => fake.reset());

  /** The client under test: the contract's, else the descriptor's (with a test key when it takes one). */
  function provider(): Provider {
    return contract.create
      ? contract.create(deployment)
      : descriptor.create(deployment, descriptor.credential ? KEY : null);
  }

  /** One call through the client; `signal` defaults to one that never fires. */
  function call(signal = new AbortController().signal, maxTokens?: number): Promise<ProviderAnswer> {
    return provider().complete({ model: deployment.model, messages: HELLO, maxTokens, signal });
  }

  /** The failure one behaviour causes; every failure is also checked for provider text. */
  async function failure(behaviour: Behaviour, signal?: AbortSignal): Promise<FailureInfo> {
    fake.next(behaviour);
    const err = await call(signal).then(
      () => expect.unreachable('the call answered'),
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ProviderError);
    const error = err as ProviderError;
    for (const text of [error.message, JSON.stringify(error.info), String(error.stack)])
      expect(text).not.toContain(PROVIDER_ERROR_TEXT);
    expect(error.cause).toBeUndefined();
    return error.info;
  }

  describe(`${descriptor.name}: answers`, () => {
    it('returns the content and usage, finish_reason stop, calling the model without its prefix', async () => {
      fake.next({ content: 'Bonjour', usage: { input: 5, output: 7 } });
      expect(await call()).toEqual({
        content: 'Bonjour',
        usage: { prompt_tokens: 5, completion_tokens: 7 },
        finishReason: 'stop',
      });
      const requested = contract.requestedModel ?? ((r: RecordedRequest) => r.body.model);
      expect(requested(fake.requests[0]!)).toBe(contract.model.slice(contract.model.indexOf('/') + 1));
    });

    if (descriptor.credential) {
      it('sends the key it was created with', async () => {
        fake.expectedKey = KEY;
        await expect(call()).resolves.toMatchObject({ finishReason: 'stop' });
      });
    }

    it('answers finish_reason length when the model was cut at max_tokens', async () => {
      fake.next({ content: 'Once upon', finish: 'length' });
      expect(await call(undefined, 3)).toMatchObject({ content: 'Once upon', finishReason: 'length' });
    });

    it('answers finish_reason other for a stop reason that is neither', async () => {
      fake.next({ content: 'Hm', stopReason: contract.otherStopReason });
      expect(await call()).toMatchObject({ content: 'Hm', finishReason: 'other' });
    });

    it('reports usage counts that are not non-negative integers below 2^31 as unknown', async () => {
      fake.next({ usage: { input: -1, output: 2 ** 31 } });
      expect((await call()).usage).toEqual({ prompt_tokens: null, completion_tokens: null });
    });

    for (const refusal of contract.refusals ?? []) {
      it(`answers a refusal (${refusal.name}) with finish_reason content_filter and the refusal text`, async () => {
        fake.next(refusal.behaviour);
        expect(await call()).toMatchObject({ content: refusal.content, finishReason: 'content_filter' });
      });
    }
  });

  // Where the API sends neither header, these cases do not apply (the provider's test file says why).
  const describeRetryHeaders: (name: string, body: () => void) => void =
    contract.retryHeaders === false ? () => undefined : describe;

  describeRetryHeaders(`${descriptor.name}: a 429 says how long to wait`, () => {
    it('reads retry-after-ms', async () => {
      expect(await failure({ status: 429, headers: { 'retry-after-ms': '1500' } })).toMatchObject({
        kind: 'rate_limited',
        status: 429,
        retryAfterMs: 1500,
      });
    });

    it('reads retry-after in seconds', async () => {
      expect((await failure({ status: 429, headers: { 'retry-after': '7' } })).retryAfterMs).toBe(7_000);
    });

    it('reads retry-after as an HTTP date', async () => {
      const at = new Date(Date.now() + 30_000).toUTCString();
      const { retryAfterMs } = await failure({ status: 429, headers: { 'retry-after': at } });
      expect(retryAfterMs).toBeGreaterThan(20_000);
      expect(retryAfterMs).toBeLessThanOrEqual(30_000);
    });

    it('never asks for more than an hour (Retry-After 86400)', async () => {
      expect((await failure({ status: 429, headers: { 'retry-after': '86400' } })).retryAfterMs).toBe(3_600_000);
    });

    it('ignores a Retry-After it cannot read', async () => {
      const info = await failure({ status: 429, headers: { 'retry-after': 'soon' } });
      expect(info).toMatchObject({ kind: 'rate_limited' });
      expect(info.retryAfterMs).toBeUndefined();
    });

    const resets = contract.rateLimitResets;
    if (resets) {
      it('reads the rate-limit reset headers when there is no Retry-After', async () => {
        const { retryAfterMs } = await failure({ status: 429, headers: resets.headers(Date.now()) });
        expect(retryAfterMs).toBeGreaterThanOrEqual(resets.waitMs[0]);
        expect(retryAfterMs).toBeLessThanOrEqual(resets.waitMs[1]);
      });
    }
  });

  describe(`${descriptor.name}: error statuses keep their class`, () => {
    it.each([
      [401, 'auth'],
      [403, 'auth'],
      [404, 'not_found'],
      [400, 'rejected'],
      [422, 'rejected'],
      [500, 'retryable'],
      [503, 'retryable'],
      [529, 'retryable'],
    ] as const)('%i is %s', async (status, kind) => {
      expect(await failure({ status })).toMatchObject({ kind, status });
    });

    it('marks a 413 as a context-length rejection', async () => {
      expect(await failure({ status: 413 })).toMatchObject({ kind: 'rejected', contextLength: true });
    });

    for (const error of contract.contextLengthErrors ?? []) {
      it(`marks ${error.name} as a context-length rejection`, async () => {
        expect(await failure(error.behaviour)).toMatchObject({ kind: 'rejected', contextLength: true });
      });
    }

    for (const error of contract.quotaErrors ?? []) {
      it(`makes ${error.name} a quota failure`, async () => {
        expect((await failure(error.behaviour)).kind).toBe('quota');
      });
    }

    if (contract.requestIds) {
      it('carries the provider request id', async () => {
        expect((await failure({ status: 500 })).requestId).toMatch(/^req_fake_\d+$/);
      });
    }
  });

  describeRetryHeaders(`${descriptor.name}: x-should-retry`, () => {
    it('false stops retries of the deployment', async () => {
      expect(await failure({ status: 500, headers: { 'x-should-retry': 'false' } })).toMatchObject({
        kind: 'retryable',
        noRetry: true,
      });
    });

    it('true makes a rejection retryable', async () => {
      const info = await failure({ status: 400, headers: { 'x-should-retry': 'true' } });
      expect(info).toMatchObject({ kind: 'retryable', status: 400 });
      expect(info.noRetry).toBeUndefined();
    });
  });

  describe(`${descriptor.name}: a 200 that is no answer is a retryable failure`, () => {
    it.each([
      ['an error body', { errorIn200: true }, 'response_error'],
      ['an HTML page', { notJson: 'html' }, 'response_not_json'],
      ['JSON cut short', { notJson: 'broken' }, 'response_not_json'],
      ['no choices or content blocks', { empty: true }, 'response_empty'],
      ['empty content that is no refusal', { content: null }, 'response_empty'],
    ] as [string, Behaviour, string][])('%s', async (_name, behaviour, code) => {
      const info = await failure(behaviour);
      expect(info).toMatchObject({ kind: 'retryable', code });
      expect(info.status).toBeUndefined();
    });
  });

  describe(`${descriptor.name}: transport`, () => {
    it('stops at once when its signal fires, as a timeout', async () => {
      const controller = new AbortController();
      const pending = failure({ hang: true }, controller.signal);
      await fake.received(1);
      controller.abort();
      expect(await pending).toMatchObject({ kind: 'retryable', timeout: true });
    });

    it('reports a dropped connection as retryable, not a timeout', async () => {
      const info = await failure({ reset: true });
      expect(info.kind).toBe('retryable');
      expect(info.timeout).toBeFalsy();
    });
  });

  runStreamContract(
    {
      name: descriptor.name,
      otherStopReason: contract.otherStopReason,
      retryAfter: contract.retryHeaders !== false,
      ...contract.streaming,
    },
    fake,
    (signal) => provider().stream({ model: deployment.model, messages: HELLO, signal }),
  );

  describe(`${descriptor.name}: no provider text in any error`, () => {
    const failing: Behaviour[] = [
      { status: 400, errorCode: 'invalid_request_error' },
      { status: 401 },
      { status: 404 },
      { status: 429, headers: { 'retry-after': '1' } },
      { status: 500 },
      { status: 529 },
      { errorIn200: true },
      { notJson: 'html' },
      { notJson: 'broken' },
      ...(contract.quotaErrors ?? []).map((e) => e.behaviour),
      ...(contract.contextLengthErrors ?? []).map((e) => e.behaviour),
    ];
    it('keeps the marker of every error body out of the message and the failure info', async () => {
      for (const behaviour of failing) await failure(behaviour); // `failure` asserts it for each
      expect(fake.count).toBe(failing.length);
    });
  });
}
