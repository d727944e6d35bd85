// The Anthropic adapter: the provider contract over the Anthropic wire fake, and what only Anthropic does.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../functions/complete/config.ts';
import { anthropic } from '../../functions/complete/providers/anthropic.ts';
import { FakeProvider } from '../fakes/provider-server.ts';
import { runProviderContract } from './contract.ts';

/** An RFC 3339 timestamp `ms` after `now`, to the second as Anthropic sends them. */
const inMs = (now: number, ms: number) => new Date(now + ms).toISOString().replace(/\.\d+Z$/, 'Z');

runProviderContract({
  kind: 'anthropic',
  descriptor: anthropic,
  model: 'anthropic/claude-sonnet-4-20250514',
  requestIds: true,
  otherStopReason: 'pause_turn',
  refusals: [
    {
      name: 'stop_reason refusal, with its explanation',
      behaviour: { refusal: 'This request may violate the usage policy.' },
      content: 'This request may violate the usage policy.',
    },
    {
      name: 'stop_reason refusal after some text',
      behaviour: { content: 'I started, but', stopReason: 'refusal' },
      content: 'I started, but',
    },
  ],
  streaming: {
    refusals: [
      {
        name: 'stop_reason refusal, its explanation as the refusal text',
        behaviour: { refusal: 'This request may violate the usage policy.' },
        pieces: [{ type: 'refusal', text: 'This request may violate the usage policy.' }],
      },
      {
        name: 'stop_reason refusal after some text',
        behaviour: { content: 'I started, but', stopReason: 'refusal' },
        pieces: [
          { type: 'content', text: 'I ' },
          { type: 'content', text: 'started, ' },
          { type: 'content', text: 'but' },
        ],
      },
    ],
    errorEvents: [
      ['overloaded_error', 'retryable'],
      ['api_error', 'retryable'],
      ['rate_limit_error', 'rate_limited'],
      ['invalid_request_error', 'rejected'],
      ['billing_error', 'quota'],
    ],
  },
  rateLimitResets: {
    headers: (now) => ({
      'anthropic-ratelimit-requests-reset': inMs(now, 5_000),
      'anthropic-ratelimit-requests-remaining': '40',
      'anthropic-ratelimit-input-tokens-reset': inMs(now, 45_000),
      'anthropic-ratelimit-input-tokens-remaining': '0',
    }),
    waitMs: [35_000, 45_000],
  },
  quotaErrors: [
    { name: 'a 402 billing_error', behaviour: { status: 402 } },
    { name: 'a 400 billing_error', behaviour: { status: 400, errorCode: 'billing_error' } },
    {
      name: 'a 400 that says the credit balance is too low',
      behaviour: { status: 400, errorMessage: 'Your credit balance is too low to access the Anthropic API.' },
    },
  ],
  contextLengthErrors: [
    {
      name: 'a 400 whose message says the prompt is too long',
      behaviour: { status: 400, errorMessage: 'prompt is too long: 210000 tokens > 200000 maximum' },
    },
  ],
});

describe('anthropic: api_base as LiteLLM accepts it', () => {
  const fake = new FakeProvider('anthropic');
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  afterEach(() => fake.reset());

  it.each(['', '/', '/v1', '/v1/', '/v1/messages'])(
    'reaches /v1/messages from an api_base ending in %j',
    async (tail) => {
      const file = {
        model_list: [{ model_name: 'g', litellm_params: { model: 'anthropic/claude', api_base: fake.url + tail } }],
      };
      const deployment = buildConfig(file, {}).config.deployments[0]!;
      const answer = await anthropic.create(deployment, 'key').complete({
        model: deployment.model,
        messages: [{ role: 'user', content: 'Hi' }],
        signal: new AbortController().signal,
      });
      expect(answer.finishReason).toBe('stop');
      expect(fake.requests[0]!.path).toBe('/v1/messages');
    },
  );
});
