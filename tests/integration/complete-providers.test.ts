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
