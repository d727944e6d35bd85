// The official `openai` client streaming from `complete` when things go wrong — the Lambda entry in streaming mode
// behind the local Function URL emulator, its real router and the providers' SDKs over the wire fakes: fallback
// before the first token, failures after it, the deadline, and a client that goes away.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../functions/complete/config.ts';
import { useFakeProviders } from '../fakes/provider-server.ts';
import { settlesWithin } from '../helpers/settles-within.ts';
import { drain, useStreamingComplete } from '../helpers/streaming-complete.ts';

// Retries are on, so "called once" below means the router chose not to retry; `allowed_fails: 0` cools a
// deployment down at its first failure, so the next attempt is the fallback group's, not a retry.
const CONFIG: ConfigFile = {
  model_list: [
    { model_name: 'quality', litellm_params: { model: 'openai/gpt-4o' } },
    { model_name: 'fast', litellm_params: { model: 'ollama/qwen3:8b' } },
  ],
  router_settings: { fallbacks: [{ quality: ['fast'] }], num_retries: 2, allowed_fails: 0 },
};

const fakes = useFakeProviders();
const serve = useStreamingComplete(fakes);
const hello = [{ role: 'user' as const, content: 'Hello' }];

describe('fallback before the first token', () => {
  it('gives the client one clean stream from the fallback deployment when the first answers 500, called once', async () => {
    const { client } = await serve(CONFIG);
    fakes.openai.always({ status: 500 });
    fakes.ollama.next({ stream: { pieces: ['from', ' ollama'] } });
    const { data, response } = await client.chat.completions
      .create({ model: 'quality', messages: hello, stream: true })
      .withResponse();
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of data) chunks.push(chunk);
    expect(new Set(chunks.map((c) => c.model))).toEqual(new Set(['ollama/qwen3:8b']));
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('from ollama');
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.filter((c) => c.choices[0]?.delta.role)).toHaveLength(1); // one stream, begun once
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('stop');
    expect(response.headers.get('x-konstruct-deployment')).toBe('ollama/qwen3:8b');
    expect(response.headers.get('x-konstruct-fallback')).toBe('true');
    expect(response.headers.get('x-konstruct-group')).toBe('fast');
    expect(response.headers.get('x-konstruct-attempts')).toBe('2');
    expect(fakes.openai.count).toBe(1);
    expect(fakes.ollama.count).toBe(1);
  });
});

describe('a silent deployment before the first token', () => {
  it("falls back when the deployment's timeout passes without a first token, and closes the silent connection", async () => {
    const { client, record } = await serve({
      ...CONFIG,
      model_list: [
        { model_name: 'quality', litellm_params: { model: 'openai/gpt-4o', timeout: 1 } },
        { model_name: 'fast', litellm_params: { model: 'ollama/qwen3:8b' } },
      ],
    });
    // The role chunk arrives, then nothing: a stream that began is not yet an answer.
    fakes.openai.next({ stream: { pieces: ['never'], failAfter: { pieces: 0, how: 'hang' } } });
    fakes.ollama.next({ stream: { pieces: ['from', ' ollama'] } });
    const started = performance.now();
    const { data, response } = await settlesWithin(
      client.chat.completions.create({ model: 'quality', messages: hello, stream: true }).withResponse(),
      1000 + 5000,
      "the fallback answers once the deployment's timeout has passed",
    );
    const waitedMs = performance.now() - started;
    const { text, err } = await drain(data);
    expect(err).toBeUndefined();
    expect(text).toBe('from ollama');
    expect(response.headers.get('x-konstruct-deployment')).toBe('ollama/qwen3:8b');
    expect(waitedMs).toBeGreaterThanOrEqual(900); // the deployment's 1 s, less the clock's rounding
    await settlesWithin(fakes.openai.streams[0]!.socketClosed, 5000, 'the silent provider connection closes');
    expect(fakes.openai.count).toBe(1);
    const written = await record();
    expect(written.attempts).toEqual([
      expect.objectContaining({ deployment: 'openai/gpt-4o', outcome: 'timeout' }),
      expect.objectContaining({ deployment: 'ollama/qwen3:8b', outcome: 'ok' }),
    ]);
  });
});

describe('failures before the first token are the ordinary JSON error', () => {
  it('answers 503 as the client typed error, not retried by the client, with the unavailable record', async () => {
    // No deployment cools down, so there is no Retry-After: `x-should-retry: false` keeps the client from retrying.
    const { client, record, requests } = await serve({
      ...CONFIG,
      router_settings: { fallbacks: [{ quality: ['fast'] }], num_retries: 0 },
    });
    fakes.openai.always({ status: 500 });
    fakes.ollama.always({ status: 500 });
    const err = await client.chat.completions
      .create({ model: 'quality', messages: hello, stream: true }, { maxRetries: 2 }) // the client's default
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err).toMatchObject({ status: 503, code: 'all_providers_unavailable' });
    expect((err as InstanceType<typeof OpenAI.APIError>).headers?.get('x-should-retry')).toBe('false');
    expect(requests()).toBe(1);
    expect(await record()).toMatchObject({ outcome: 'unavailable', Unavailable: 1 });
  });
});

describe('failures after the first token end the stream with one error event', () => {
  it.each(['error', 'cut'] as const)(
    'makes the client iteration throw after the deltas it had when the provider %s, with no retry or fallback',
    async (how) => {
      const { client, record } = await serve(CONFIG);
      fakes.openai.next({ stream: { pieces: ['par', 'tial', ' never'], failAfter: { pieces: 2, how } } });
      const stream = await client.chat.completions.create({ model: 'quality', messages: hello, stream: true });
      const { text, err } = await drain(stream);
      expect(text).toBe('partial');
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(err).toMatchObject({ code: 'provider_error', type: 'server_error' });
      expect(fakes.openai.count).toBe(1);
      expect(fakes.ollama.count).toBe(0);
      const written = await record();
      expect(written).toMatchObject({ outcome: 'stream_failed', deployment: 'openai/gpt-4o', streamed: true });
      expect(written.TtftMs).toBeGreaterThanOrEqual(0);
    },
  );

  it('counts the failure against the deployment: the next request goes to the fallback', async () => {
    const { client } = await serve(CONFIG);
    fakes.openai.next({ stream: { pieces: ['par', 'tial'], failAfter: { pieces: 1, how: 'error' } } });
    await drain(await client.chat.completions.create({ model: 'quality', messages: hello, stream: true }));
    const { data, response } = await client.chat.completions
      .create({ model: 'quality', messages: hello, stream: true })
      .withResponse();
    expect((await drain(data)).err).toBeUndefined();
    expect(response.headers.get('x-konstruct-deployment')).toBe('ollama/qwen3:8b');
    expect(fakes.openai.count).toBe(1);
  });
});

describe('the deadline bounds the whole stream', () => {
  it('ends a stream whose provider sent one token and hung with an error event whose code is timeout', async () => {
    const { client, record } = await serve(CONFIG);
    fakes.openai.next({ stream: { pieces: ['one', ' two'], failAfter: { pieces: 1, how: 'hang' } } });
    const started = performance.now();
    const stream = await client.chat.completions.create(
      { model: 'quality', messages: hello, stream: true },
      { headers: { 'x-konstruct-timeout-ms': '1500' } },
    );
    const { text, err } = await settlesWithin(drain(stream), 1500 + 5000, 'the stream ends by the deadline');
    const tookMs = performance.now() - started;
    expect(text).toBe('one');
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err).toMatchObject({ code: 'timeout', type: 'server_error' });
    expect(tookMs).toBeGreaterThanOrEqual(1400); // not before the deadline (less the clock's rounding), and by it
    await settlesWithin(fakes.openai.streams[0]!.socketClosed, 5000, 'the provider connection closes');
    expect(await record()).toMatchObject({ outcome: 'stream_failed' });
  });
});

describe('a client that goes away aborts the stream', () => {
  it('closes the provider connection when the SDK call is aborted, and records client_gone', async () => {
    const { client, record } = await serve(CONFIG);
    fakes.openai.next({ stream: { pieces: ['one', ' two'], failAfter: { pieces: 1, how: 'hang' } } });
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'quality', messages: hello, stream: true },
      { signal: controller.signal },
    );
    const received: string[] = [];
    // The SDK ends its iteration quietly when its own signal aborts it.
    for await (const chunk of stream) {
      received.push(chunk.choices[0]!.delta.content ?? '');
      if (chunk.choices[0]?.delta.content) controller.abort();
    }
    expect(received).toEqual(['', 'one']);
    // The fake is silent until its client leaves: its socket closes only because the handler aborted its call.
    await settlesWithin(fakes.openai.streams[0]!.socketClosed, 5000, 'the provider connection closes');
    expect(await record()).toMatchObject({ outcome: 'client_gone' });
  });
});

describe('a client that goes away before the first token', () => {
  it('closes the provider connection that is still silent, and records client_gone', async () => {
    const { client, record } = await serve(CONFIG);
    // The deployment's timeout (60 s) would let the router wait for its first token far longer than this test.
    fakes.openai.next({ stream: { pieces: ['never'], failAfter: { pieces: 0, how: 'hang' } } });
    const controller = new AbortController();
    const asked = client.chat.completions
      .create({ model: 'quality', messages: hello, stream: true }, { signal: controller.signal })
      .catch((e: unknown) => e);
    await fakes.openai.received(1);
    controller.abort();
    expect(await asked).toBeInstanceOf(OpenAI.APIUserAbortError);
    await settlesWithin(fakes.openai.streams[0]!.socketClosed, 5000, 'the provider connection closes');
    expect(fakes.ollama.count).toBe(0); // leaving is not a failure to fall back from
    expect(await record()).toMatchObject({ outcome: 'client_gone' });
  });
});
