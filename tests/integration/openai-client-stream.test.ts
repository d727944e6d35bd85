// The official `openai` client streaming from `complete` — the Lambda entry in streaming mode behind the local
// Function URL emulator, its real router and each provider's SDK over the wire fakes: chunks as OpenAI sends them,
// as the provider spaced them, and the cost record written when the stream ends.
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../functions/complete/config.ts';
import { useFakeProviders } from '../fakes/provider-server.ts';
import { settlesWithin } from '../helpers/settles-within.ts';
import { useStreamingComplete } from '../helpers/streaming-complete.ts';

const CONFIG: ConfigFile = {
  model_list: [
    { model_name: 'quality', litellm_params: { model: 'openai/gpt-4o' } },
    { model_name: 'fast', litellm_params: { model: 'ollama/qwen3:8b' } },
    { model_name: 'claude', litellm_params: { model: 'anthropic/claude-sonnet-4-5' } },
  ],
};

const fakes = useFakeProviders();
const serve = useStreamingComplete(fakes);
const hello = [{ role: 'user' as const, content: 'Hello' }];

describe('a stream answers as OpenAI streams', () => {
  it('sends the role, content deltas that make up the answer, finish_reason, the usage chunk and [DONE]', async () => {
    const { client, record } = await serve(CONFIG);
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
    const { client } = await serve(CONFIG);
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
    const { client } = await serve(CONFIG);
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
    const { client } = await serve(CONFIG);
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

describe('every provider streams through the same API', () => {
  it.each([
    { group: 'claude', deployment: 'anthropic/claude-sonnet-4-5', pieces: ['Hel', 'lo!'] },
    // Ollama's thinking is withheld: the client sees only what follows it.
    {
      group: 'fast',
      deployment: 'ollama/qwen3:8b',
      pieces: ['<think>', 'Let me see.', '</think>', '\n\n', 'Hel', 'lo!'],
    },
  ])(
    'streams $deployment as chat.completion.chunk deltas of its visible answer',
    async ({ group, deployment, pieces }) => {
      const { client } = await serve(CONFIG);
      const fake = deployment.startsWith('anthropic/') ? fakes.anthropic : fakes.ollama;
      fake.next({ usage: { input: 5, output: 2 }, stream: { pieces } });
      const chunks: OpenAI.ChatCompletionChunk[] = [];
      const stream = await client.chat.completions.create({
        model: group,
        messages: hello,
        stream: true,
        stream_options: { include_usage: true },
      });
      for await (const chunk of stream) chunks.push(chunk);
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello!');
      expect(new Set(chunks.map((c) => c.model))).toEqual(new Set([deployment]));
      expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('stop');
      expect(chunks.at(-1)!.usage).toEqual({ prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
      expect(fake.requests[0]!.body).toMatchObject({ stream: true });
    },
  );
});
