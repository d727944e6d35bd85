// The Ollama adapter: the provider contract over the Ollama wire fake, and its thinking never returned.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../functions/complete/config.ts';
import { ollama } from '../../functions/complete/providers/ollama.ts';
import type { StreamPiece } from '../../functions/complete/providers/provider.ts';
import { FakeProvider, type Behaviour } from '../fakes/provider-server.ts';
import { runProviderContract } from './contract.ts';

runProviderContract({
  kind: 'ollama',
  descriptor: ollama,
  model: 'ollama/qwen3:8b',
  otherStopReason: 'unload',
  // Ollama's error lines carry a message only: every one is a retryable failure.
  streaming: { errorEvents: [] },
});

describe('ollama: thinking is never returned', () => {
  const fake = new FakeProvider('ollama');
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  afterEach(() => fake.reset());

  async function answer(behaviour: Behaviour) {
    fake.next(behaviour);
    const file = { model_list: [{ model_name: 'g', litellm_params: { model: 'ollama_chat/qwen3:8b' } }] };
    const deployment = buildConfig(file, { OLLAMA_BASE_URL: fake.url }).config.deployments[0]!;
    return ollama.create(deployment, null).complete({
      model: deployment.model,
      messages: [{ role: 'user', content: 'Hi' }],
      signal: new AbortController().signal,
    });
  }

  it('removes the thinking and trims the rest', async () => {
    expect(await answer({ content: '<think>Let me see.</think>\n\n Hello! ' })).toMatchObject({
      content: 'Hello!',
      finishReason: 'stop',
    });
  });

  it('answers empty content with finish_reason length when cut inside the thinking', async () => {
    expect(await answer({ content: '<think>I should start by', finish: 'length' })).toMatchObject({
      content: '',
      finishReason: 'length',
    });
  });

  it('fails, retryably, when nothing but thinking came back', async () => {
    await expect(answer({ content: '<think>Hmm.</think>' })).rejects.toMatchObject({
      info: { kind: 'retryable', code: 'response_empty' },
    });
  });
});

describe('ollama: thinking is never streamed', () => {
  const fake = new FakeProvider('ollama');
  beforeAll(() => fake.start());
  afterAll(() => fake.stop());
  afterEach(() => fake.reset());

  async function streamed(behaviour: Behaviour) {
    fake.next(behaviour);
    const file = { model_list: [{ model_name: 'g', litellm_params: { model: 'ollama_chat/qwen3:8b' } }] };
    const deployment = buildConfig(file, { OLLAMA_BASE_URL: fake.url }).config.deployments[0]!;
    const pieces: StreamPiece[] = [];
    const stream = ollama.create(deployment, null).stream({
      model: deployment.model,
      messages: [{ role: 'user', content: 'Hi' }],
      signal: new AbortController().signal,
    });
    for await (const piece of stream) pieces.push(piece);
    return pieces;
  }

  it('withholds the thinking block and the space after it, even split across pieces', async () => {
    const pieces = await streamed({
      stream: { pieces: ['\n<thi', 'nk>Let me', ' see.</th', 'ink>\n', '\n ', 'Hello', ' there!'] },
    });
    expect(pieces.slice(0, -1)).toEqual([
      { type: 'content', text: 'Hello' },
      { type: 'content', text: ' there!' },
    ]);
    expect(pieces.at(-1)).toMatchObject({ type: 'end', finishReason: 'stop' });
  });

  it('withholds several leading thinking blocks', async () => {
    const pieces = await streamed({ stream: { pieces: ['<think>a</think> <think>b</think>', ' Yes'] } });
    expect(pieces.slice(0, -1)).toEqual([{ type: 'content', text: 'Yes' }]);
  });

  it('streams content that only starts like a thinking block', async () => {
    const pieces = await streamed({ stream: { pieces: ['<th', 'at>', ' is a tag'] } });
    expect(pieces.slice(0, -1)).toEqual([
      { type: 'content', text: '<that>' },
      { type: 'content', text: ' is a tag' },
    ]);
  });

  it('ends with no content and finish_reason length when cut inside the thinking', async () => {
    const pieces = await streamed({ stream: { pieces: ['<think>', 'I should start by'] }, finish: 'length' });
    expect(pieces).toEqual([{ type: 'end', finishReason: 'length', usage: expect.any(Object) }]);
  });

  it('fails, retryably, when nothing but thinking came back', async () => {
    await expect(streamed({ stream: { pieces: ['<think>Hmm.</think>', '\n'] } })).rejects.toMatchObject({
      info: { kind: 'retryable', code: 'response_empty' },
    });
  });

  it('passes content with no thinking through as it comes', async () => {
    const pieces = await streamed({ stream: { pieces: [' Hi', '!'] } });
    expect(pieces.slice(0, -1)).toEqual([
      { type: 'content', text: 'Hi' },
      { type: 'content', text: '!' },
    ]);
  });
});
