// The Ollama adapter: the provider contract over the Ollama wire fake, and its thinking never returned.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../functions/complete/config.ts';
import { ollama } from '../../functions/complete/providers/ollama.ts';
import { FakeProvider, type Behaviour } from '../fakes/provider-server.ts';
import { runProviderContract } from './contract.ts';

runProviderContract({ kind: 'ollama', descriptor: ollama, model: 'ollama/qwen3:8b', otherStopReason: 'unload' });

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
