// How each provider's answers and failures reach the caller: statuses, stop reasons, thinking removed.
import { describe, expect, it } from 'vitest';
import { useFakeProviders } from '../fakes/provider-server.ts';
import { completeFunction } from '../helpers/function-url.ts';

const OLLAMA = 'ollama/qwen3:8b';

const fakes = useFakeProviders();

describe('Ollama failures keep their HTTP status', () => {
  it('tries a 404 (model not pulled) once and reports it with its status', async () => {
    fakes.ollama.always({ status: 404 });
    const res = await completeFunction(fakes).complete({ model: 'fast' });
    expect(res.status).toBe(503);
    expect(res.body.attempts).toEqual([{ group: 'fast', deployment: OLLAMA, outcome: 'error', status: 404 }]);
    expect(fakes.ollama.count).toBe(1);
  });

  it('retries a 500 and reports every attempt with its status', async () => {
    fakes.ollama.always({ status: 500 });
    const res = await completeFunction(fakes).complete({ model: 'fast' });
    expect(res.status).toBe(503);
    expect(res.body.attempts).toEqual(
      Array(3).fill({ group: 'fast', deployment: OLLAMA, outcome: 'error', status: 500 }),
    );
  });
});

describe('Ollama thinking is never returned', () => {
  it('removes every leading <think> block, not only the first', async () => {
    fakes.ollama.next({ content: '<think>First thought.</think>\n<think>Second thought.</think>\n\nHello!' });
    const res = await completeFunction(fakes).complete({ model: 'fast' });
    expect(res.body.content).toBe('Hello!');
  });

  it('removes a <think> block cut off at max_tokens, leaving empty content and finish_reason length', async () => {
    fakes.ollama.next({ content: '<think>I should start by', finish: 'length' });
    const res = await completeFunction(fakes).complete({ model: 'fast', max_tokens: 5 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ content: '', finish_reason: 'length' });
  });
});

describe('Anthropic stop reasons', () => {
  it('answers finish_reason stop when the model stopped at a stop sequence', async () => {
    fakes.anthropic.next({ stopReason: 'stop_sequence' });
    const res = await completeFunction(fakes).complete({ model: 'quality' });
    expect(res.body).toMatchObject({ model: 'anthropic/claude-sonnet-4-20250514', finish_reason: 'stop' });
  });
});

describe('refusals reach the caller as content_filter', () => {
  const config = { model_list: [{ model_name: 'g', litellm_params: { model: 'openai/gpt-4o' } }] };

  it('answers an OpenAI refusal with finish_reason content_filter and the refusal text, never an empty stop', async () => {
    fakes.openai.next({ refusal: "I can't help with that." });
    const res = await completeFunction(fakes, { config }).complete({ model: 'g' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      content: "I can't help with that.",
      finish_reason: 'content_filter',
      attempts: 1,
    });
  });
});

describe('a 200 that is no answer is a failed attempt', () => {
  it('retries Ollama after a 200 carrying {"error": …} instead of answering empty', async () => {
    fakes.ollama.next({ errorIn200: true }, { content: 'Hello!' });
    const res = await completeFunction(fakes).complete({ model: 'fast' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ content: 'Hello!', attempts: 2 });
    expect(fakes.ollama.count).toBe(2);
  });
});
