// The official `openai` client streaming from `complete` — the Lambda entry in streaming mode behind the local
// Function URL emulator: chunks as OpenAI sends them, errors before and after the first token, the deadline,
// a client that goes away, and the cost record written when the stream ends.
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
import { doubleRouteStream, type StreamDouble } from '../helpers/route-stream-double.ts';

const CONFIG: ConfigFile = {
  model_list: [
    { model_name: 'quality', litellm_params: { model: 'openai/gpt-4o' } },
    { model_name: 'fast', litellm_params: { model: 'ollama/qwen3:8b' } },
  ],
  router_settings: { fallbacks: [{ quality: ['fast'] }], num_retries: 2 },
};

const fakes = useFakeProviders();
let server: Server | undefined;
afterEach(async () => {
  const closing = new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server?.closeAllConnections();
  await closing;
  server = undefined;
});

/** A fresh `complete` behind the emulator, its router's streaming call scripted, and its cost records seen. */
async function serve() {
  installAwsLambdaGlobal();
  const fn = completeFunction(fakes, { config: CONFIG });
  const router: StreamDouble = doubleRouteStream(fn.deps.router); // the one line that goes when the router streams
  const records: Record<string, unknown>[] = [];
  let recorded!: (record: Record<string, unknown>) => void;
  const firstRecord = new Promise<Record<string, unknown>>((resolve) => (recorded = resolve));
  vi.spyOn(fn.deps.records, 'info').mockImplementation((message, fields) => {
    if (message !== 'completion') return;
    records.push(fields);
    recorded(fields);
  });
  server = serveFunctionUrl(streamingEntry(fn.handler), { functionName: 'complete', timeoutMs: 120_000 });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new OpenAI({
    baseURL: `http://127.0.0.1:${port}/v1`,
    apiKey: 'unused-locally',
    defaultHeaders: { 'x-konstruct-tenant': 'acme' },
  });
  return { client, router, records, record: () => firstRecord };
}

const hello = [{ role: 'user' as const, content: 'Hello' }];
const usage = { prompt_tokens: 12, completion_tokens: 3 };

describe('a stream answers as OpenAI streams', () => {
  it('sends the role, content deltas that make up the answer, finish_reason, the usage chunk and [DONE]', async () => {
    const { client, router, record } = await serve();
    router.script({
      deployment: 'openai/gpt-4o',
      pieces: [
        { type: 'content', text: 'Hel' },
        { type: 'content', text: 'lo, ' },
        { type: 'content', text: 'wörld' },
        { type: 'end', finishReason: 'stop', usage },
      ],
    });
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
    expect(chunks[5]).toMatchObject({ choices: [], usage: { ...usage, total_tokens: 15 } });
    expect(chunks).toHaveLength(6);
    for (const chunk of chunks.slice(0, 5)) expect(chunk.usage).toBeNull();

    const written = await record();
    expect(written).toMatchObject({
      outcome: 'answered',
      tenant_id: 'acme',
      deployment: 'openai/gpt-4o',
      PromptTokens: 12,
      CompletionTokens: 3,
      TtftMs: 7,
      streamed: true,
    });
    const emf = (written._aws as { CloudWatchMetrics: { Metrics: { Name: string }[] }[] }).CloudWatchMetrics[0]!;
    expect(emf.Metrics.map((m) => m.Name)).toEqual(expect.arrayContaining(['LatencyMs', 'TtftMs', 'CostUSD']));
  });

  it('hands the client each delta as the provider sends it, not when the answer is complete', async () => {
    const { client, router } = await serve();
    let release!: () => void;
    router.script({
      deployment: 'openai/gpt-4o',
      pieces: [
        { type: 'content', text: 'first' },
        { type: 'content', text: ' second' },
        { type: 'end', finishReason: 'stop', usage },
      ],
      holdRest: new Promise<void>((resolve) => (release = resolve)),
    });
    const stream = await client.chat.completions.create({ model: 'quality', messages: hello, stream: true });
    const iterator = stream[Symbol.asyncIterator]();
    expect((await iterator.next()).value.choices[0].delta.role).toBe('assistant');
    // The provider has sent only its first piece: the client has it already.
    expect((await iterator.next()).value.choices[0].delta.content).toBe('first');
    release();
    expect((await iterator.next()).value.choices[0].delta.content).toBe(' second');
    expect((await iterator.next()).value.choices[0].finish_reason).toBe('stop');
    expect((await iterator.next()).done).toBe(true);
  });

  it('sends a refusal as delta.refusal with finish_reason content_filter, and other as stop without usage unasked', async () => {
    const { client, router } = await serve();
    router.script({
      deployment: 'openai/gpt-4o',
      pieces: [
        { type: 'refusal', text: 'I cannot help with that.' },
        { type: 'end', finishReason: 'content_filter', usage },
      ],
    });
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

    router.script({
      deployment: 'openai/gpt-4o',
      pieces: [
        { type: 'content', text: 'ok' },
        { type: 'end', finishReason: 'other', usage },
      ],
    });
    const last: OpenAI.ChatCompletionChunk[] = [];
    for await (const c of await client.chat.completions.create({ model: 'quality', messages: hello, stream: true }))
      last.push(c);
    expect(last.at(-1)!.choices[0]!.finish_reason).toBe('stop');
  });

  it('names the fallback deployment and group that answered after the first group failed before its first token', async () => {
    const { client, router } = await serve();
    router.script({
      deployment: 'ollama/qwen3:8b',
      failedFirst: [{ group: 'quality', deployment: 'openai/gpt-4o', outcome: 'error', status: 500 }],
      pieces: [
        { type: 'content', text: 'from ollama' },
        { type: 'end', finishReason: 'stop', usage },
      ],
    });
    const { data, response } = await client.chat.completions
      .create({ model: 'quality', messages: hello, stream: true })
      .withResponse();
    const models = new Set<string>();
    for await (const chunk of data) models.add(chunk.model);
    expect([...models]).toEqual(['ollama/qwen3:8b']);
    expect(response.headers.get('x-konstruct-fallback')).toBe('true');
    expect(response.headers.get('x-konstruct-group')).toBe('fast');
    expect(response.headers.get('x-konstruct-attempts')).toBe('2');
  });
});

describe('failures before the first token are the ordinary JSON error', () => {
  it('answers 503 as the client typed error, not retried by the client, with the unavailable record', async () => {
    const { client, router, record } = await serve();
    router.script({ unavailable: [{ group: 'quality', deployment: 'openai/gpt-4o', outcome: 'error', status: 500 }] });
    const err = await client.chat.completions
      .create({ model: 'quality', messages: hello, stream: true })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.InternalServerError);
    expect(err).toMatchObject({ status: 503, code: 'all_providers_unavailable' });
    expect((err as InstanceType<typeof OpenAI.APIError>).headers?.get('x-should-retry')).toBe('false');
    expect(router.calls).toHaveLength(1);
    expect(await record()).toMatchObject({ outcome: 'unavailable', Unavailable: 1 });
  });
});

describe('failures after the first token end the stream with one error event', () => {
  it('makes the client iteration throw after the deltas it had, and records stream_failed', async () => {
    const { client, router, record } = await serve();
    router.script({ deployment: 'openai/gpt-4o', pieces: [{ type: 'content', text: 'partial' }], then: 'fail' });
    const stream = await client.chat.completions.create({ model: 'quality', messages: hello, stream: true });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(seen.join('')).toBe('partial');
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err).toMatchObject({ code: 'provider_error', type: 'server_error' });
    expect(router.calls).toHaveLength(1);
    expect(await record()).toMatchObject({ outcome: 'stream_failed', TtftMs: 7 });
  });

  it('ends a stream that outlives the deadline with an error event whose code is timeout', async () => {
    const { client, router, record } = await serve();
    router.script({ deployment: 'openai/gpt-4o', pieces: [{ type: 'content', text: 'one' }], then: 'hang' });
    const stream = await client.chat.completions.create(
      { model: 'quality', messages: hello, stream: true },
      { headers: { 'x-konstruct-timeout-ms': '300' } },
    );
    const started = Date.now();
    const err = await (async () => {
      for await (const _chunk of stream);
    })().catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'timeout' });
    expect(Date.now() - started).toBeLessThan(10_000); // the deadline, with a generous margin
    expect(await record()).toMatchObject({ outcome: 'stream_failed' });
  });
});

describe('a client that goes away aborts the stream', () => {
  it('aborts the router signal and closes the provider call when the SDK call is aborted, and records client_gone', async () => {
    const { client, router, record } = await serve();
    router.script({ deployment: 'openai/gpt-4o', pieces: [{ type: 'content', text: 'one' }], then: 'hang' });
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
    await router.closed();
    expect(router.calls[0]!.signal!.aborted).toBe(true);
    expect(await record()).toMatchObject({ outcome: 'client_gone' });
  });
});
