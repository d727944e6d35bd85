// The official `openai` client streaming from `complete` — the Lambda entry in streaming mode behind the local
// Function URL emulator, its real router and the providers' SDKs over the wire fakes: chunks as the provider
// sends them, fallback before the first token, failures after it, the deadline, a client that goes away, and
// the cost record written when the stream ends.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { streamingEntry } from '../../functions/complete/app.ts';
import type { ConfigFile } from '../../functions/complete/config.ts';
import { installAwsLambdaGlobal } from '../../local/awslambda-global.ts';
import { serveFunctionUrl } from '../../local/function-url.ts';
import { useFakeProviders } from '../fakes/provider-server.ts';
import { completeFunction } from '../helpers/function-url.ts';
import { settlesWithin } from '../helpers/settles-within.ts';

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
let server: Server | undefined;
afterEach(async () => {
  const closing = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server?.closeAllConnections();
  await closing;
  server = undefined;
});

/** A fresh `complete` (its own router state) behind the emulator, the requests it got and its cost records. */
async function serve(config: ConfigFile = CONFIG) {
  installAwsLambdaGlobal();
  const fn = completeFunction(fakes, { config });
  const records: Record<string, unknown>[] = [];
  let recorded!: (record: Record<string, unknown>) => void;
  const firstRecord = new Promise<Record<string, unknown>>((resolve) => (recorded = resolve));
  vi.spyOn(fn.deps.records, 'info').mockImplementation((message, fields) => {
    if (message !== 'completion') return;
    records.push(fields);
    recorded(fields);
  });
  server = serveFunctionUrl(streamingEntry(fn.handler), { functionName: 'complete', timeoutMs: 120_000 });
  let requests = 0;
  server.on('request', () => requests++);
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new OpenAI({
    baseURL: `http://127.0.0.1:${port}/v1`,
    apiKey: 'unused-locally',
    defaultHeaders: { 'x-konstruct-tenant': 'acme' },
    // A 503 with Retry-After would have the client wait and retry: a broken stream fails at once instead.
    maxRetries: 0,
  });
  return { client, records, record: () => firstRecord, requests: () => requests };
}

const hello = [{ role: 'user' as const, content: 'Hello' }];

/** Reads a stream to its end or its error: the content it carried, and the error it threw. */
async function drain(stream: AsyncIterable<OpenAI.ChatCompletionChunk>) {
  const content: string[] = [];
  try {
    for await (const chunk of stream) content.push(chunk.choices[0]?.delta.content ?? '');
  } catch (err) {
    return { text: content.join(''), err };
  }
  return { text: content.join(''), err: undefined };
}

describe('a stream answers as OpenAI streams', () => {
  it('sends the role, content deltas that make up the answer, finish_reason, the usage chunk and [DONE]', async () => {
    const { client, record } = await serve();
    // The provider waits before its first piece: the record's time to first token is measured, not made up.
    fakes.openai.next({ delayMs: 80, usage: { input: 12, output: 3 }, stream: { pieces: ['Hel', 'lo, ', 'wörld'] } });
    const { data: stream, response } = await client.chat.completions
      .create({ model: 'quality', messages: hello, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    const requestId = response.headers.get('x-request-id');
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('x-konstruct-')))).toEqual({
      'x-konstruct-group': 'quality',
      'x-konstruct-deployment': 'openai/gpt-4o',
      'x-konstruct-fallback': 'false',
      'x-konstruct-attempts': '1',
    });
    for (const chunk of chunks) {
      expect(chunk).toMatchObject({
        id: `chatcmpl-${requestId}`,
        object: 'chat.completion.chunk',
        model: 'openai/gpt-4o',
        created: chunks[0]!.created,
      });
    }
    expect(chunks[0]!.choices[0]).toEqual({
      index: 0,
      delta: { role: 'assistant', content: '', refusal: null },
      logprobs: null,
      finish_reason: null,
    });
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text).toBe('Hello, wörld');
    expect(chunks.slice(1, 4).map((c) => c.choices[0]!.delta)).toEqual([
      { content: 'Hel' },
      { content: 'lo, ' },
      { content: 'wörld' },
    ]);
    expect(chunks[4]!.choices[0]).toMatchObject({ delta: {}, finish_reason: 'stop' });
    expect(chunks[5]).toMatchObject({
      choices: [],
      usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
    });
    expect(chunks).toHaveLength(6);
    for (const chunk of chunks.slice(0, 5)) expect(chunk.usage).toBeNull();
    expect(fakes.openai.requests[0]!.body).toMatchObject({ model: 'gpt-4o', stream: true });

    const written = await record();
    expect(written).toMatchObject({
      outcome: 'answered',
      tenant_id: 'acme',
      deployment: 'openai/gpt-4o',
      PromptTokens: 12,
      CompletionTokens: 3,
      streamed: true,
    });
    expect(written.TtftMs).toBeGreaterThanOrEqual(80);
    expect(written.LatencyMs).toBeGreaterThanOrEqual(written.TtftMs as number);
    const emf = (written._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] }).CloudWatchMetrics[0]!;
    expect(emf.Metrics.map((m) => m.Name)).toEqual(expect.arrayContaining(['LatencyMs', 'TtftMs', 'CostUSD']));
  });

  it('delivers the deltas spread out as the provider spaced them, and they make up its answer', async () => {
    const { client } = await serve();
    const pieces = ['One', ' two', ' three', ' four', ' five'];
    fakes.openai.next({ stream: { pieces, everyMs: 60 } });
    const stream = await client.chat.completions.create({
      model: 'quality',
      messages: hello,
      stream: true,
      stream_options: { include_usage: true },
    });
    const arrivals: { text: string; at: number; sentByProvider: number }[] = [];
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      const text = chunk.choices[0]?.delta.content;
      if (text) arrivals.push({ text, at: performance.now(), sentByProvider: fakes.openai.streams[0]!.pieces });
      if (chunk.usage) usage = chunk.usage;
    }
    expect(arrivals.map((a) => a.text).join('')).toBe(pieces.join(''));
    expect(usage).toMatchObject({ total_tokens: 12 + 34 });
    // Each delta reached the client before the provider had sent the next one, not all at the end.
    expect(arrivals.map((a) => a.sentByProvider)).toEqual([1, 2, 3, 4, 5]);
    // The provider took at least 4 × 60 ms between its first and last piece: so did their arrivals (less slack).
    expect(arrivals.at(-1)!.at - arrivals[0]!.at).toBeGreaterThanOrEqual(180);
  });

  it('hands the client each delta as the provider sends it, not when the answer is complete', async () => {
    const { client } = await serve();
    fakes.openai.next({ stream: { pieces: ['first', ' second'], failAfter: { pieces: 1, how: 'hang' } } });
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'quality', messages: hello, stream: true },
      { signal: controller.signal },
    );
    const iterator = stream[Symbol.asyncIterator]();
    const next = () => settlesWithin(iterator.next(), 5000, 'a chunk arrives while the provider holds on');
    expect((await next()).value.choices[0].delta.role).toBe('assistant');
    // The provider has sent only its first piece and holds the rest back: the client has that piece already.
    expect((await next()).value.choices[0].delta.content).toBe('first');
    expect(fakes.openai.streams[0]).toMatchObject({ pieces: 1, complete: false });
    controller.abort();
  });

  it('sends a refusal as delta.refusal with finish_reason content_filter, and other as stop without usage unasked', async () => {
    const { client } = await serve();
    fakes.openai.next({ refusal: 'I cannot help with that.', stream: { pieces: ['I cannot help with that.'] } });
    const chunks: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of await client.chat.completions.create({ model: 'quality', messages: hello, stream: true }))
      chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta)).toEqual([
      { role: 'assistant', content: '', refusal: null },
      { refusal: 'I cannot help with that.' },
      {},
    ]);
    expect(chunks.at(-1)!.choices[0]!.finish_reason).toBe('content_filter');
    expect(chunks.every((c) => !('usage' in c))).toBe(true);

    fakes.openai.next({ content: 'ok', stopReason: 'tool_calls' }); // a finish reason the router calls `other`
    const last: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of await client.chat.completions.create({ model: 'quality', messages: hello, stream: true }))
      last.push(c);
    expect(last.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });
});

describe('fallback before the first token', () => {
  it('gives the client one clean stream from the fallback deployment when the first answers 500, called once', async () => {
    const { client } = await serve();
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
      const { client, record } = await serve();
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
    const { client } = await serve();
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
    const { client, record } = await serve();
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
    const { client, record } = await serve();
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
    const { client, record } = await serve();
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
