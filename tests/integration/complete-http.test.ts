// The HTTP contract of `complete`: every 400/404/405/413, /health, provider mappings, and what logs may hold.
import { beforeAll, describe, expect, it } from 'vitest';
import { PROVIDER_ERROR_TEXT, useFakeProviders } from '../fakes/provider-server.ts';
import { ANTHROPIC_KEY, OPENAI_KEY, completeFunction } from '../helpers/function-url.ts';
import { captureDuring } from '../helpers/log-capture.ts';

const fakes = useFakeProviders();
let fn: ReturnType<typeof completeFunction>;
beforeAll(() => {
  fn = completeFunction(fakes);
});

const valid = { model: 'fast', tenant_id: 'tenant-1', messages: [{ role: 'user', content: 'Hi' }] };

describe('400: bad request bodies', () => {
  it('rejects a body that is not JSON', async () => {
    const res = await fn.invoke('POST', '/complete', '{"model": "fast",', { raw: true });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/not valid JSON/);
    expect(res.headers['content-type']).toBe('application/json');
  });

  it('rejects a missing or empty body', async () => {
    expect((await fn.invoke('POST', '/complete')).status).toBe(400);
    const res = await fn.invoke('POST', '/complete', '   ', { raw: true });
    expect(res.status).toBe(400);
    expect(res.body.error).toMatch(/empty/);
  });

  it.each([
    ['a JSON array', []],
    ['a JSON string', 'hello'],
    ['null', null],
  ])('rejects %s', async (_name, body) => {
    const res = await fn.invoke('POST', '/complete', body);
    expect(res.status).toBe(400);
    expect(res.body.details).toBeDefined();
  });

  it('lists every missing required field in details', async () => {
    const res = await fn.invoke('POST', '/complete', {});
    expect(res.status).toBe(400);
    expect(res.body.details.map((d: { field: string }) => d.field).sort()).toEqual(['messages', 'model', 'tenant_id']);
  });

  it('names an unknown key (typos never pass silently)', async () => {
    const res = await fn.invoke('POST', '/complete', { ...valid, max_token: 5 });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([expect.objectContaining({ field: 'max_token' })]);
    expect(res.body.error).toContain('max_token');
  });

  it('names an unknown key inside a message', async () => {
    const res = await fn.invoke('POST', '/complete', {
      ...valid,
      messages: [{ role: 'user', content: 'x', name: 'bob' }],
    });
    expect(res.status).toBe(400);
    expect(res.body.details[0].field).toBe('messages[0].name');
  });

  it('rejects a hostile __proto__ key instead of merging it', async () => {
    const res = await fn.invoke(
      'POST',
      '/complete',
      '{"model":"fast","tenant_id":"t","messages":[{"role":"user","content":"x"}],"__proto__":{"admin":true}}',
      { raw: true },
    );
    expect(res.status).toBe(400);
    expect(res.body.details[0].field).toBe('__proto__');
  });

  it.each([
    ['messages empty', { messages: [] }, 'messages'],
    ['only system messages', { messages: [{ role: 'system', content: 'You are terse.' }] }, 'messages'],
    ['a message role unknown', { messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].role'],
    [
      'a message content not a string',
      { messages: [{ role: 'user', content: [{ type: 'text' }] }] },
      'messages[0].content',
    ],
    ['tenant_id empty', { tenant_id: '' }, 'tenant_id'],
    ['tenant_id with hostile characters', { tenant_id: "t'; DROP TABLE tenants; --" }, 'tenant_id'],
    ['tenant_id of 129 characters', { tenant_id: 'a'.repeat(129) }, 'tenant_id'],
    ['max_tokens 0', { max_tokens: 0 }, 'max_tokens'],
    ['max_tokens 32001', { max_tokens: 32_001 }, 'max_tokens'],
    ['max_tokens not an integer', { max_tokens: 1.5 }, 'max_tokens'],
    ['max_tokens as a string', { max_tokens: '5' }, 'max_tokens'],
    ['temperature above 2', { temperature: 2.5 }, 'temperature'],
    ['temperature negative', { temperature: -0.1 }, 'temperature'],
    ['timeout_ms below 100', { timeout_ms: 99 }, 'timeout_ms'],
    ['timeout_ms above 900000', { timeout_ms: 900_001 }, 'timeout_ms'],
    ['model empty', { model: '' }, 'model'],
  ])('rejects %s, naming the field', async (_name, patch, field) => {
    const res = await fn.invoke('POST', '/complete', { ...valid, ...patch });
    expect(res.status).toBe(400);
    expect(res.body.details.map((d: { field: string }) => d.field)).toContain(field);
    expect(fakes.ollama.count).toBe(0);
  });

  it('says a request with no user or assistant turn needs one, whatever the system messages', async () => {
    const system = { role: 'system', content: 'You are terse.' };
    const res = await fn.invoke('POST', '/complete', { ...valid, messages: [system, system] });
    expect(res.status).toBe(400);
    expect(res.body.details).toEqual([
      { field: 'messages', problem: expect.stringContaining('at least one user or assistant message is required') },
    ]);
    expect(res.body.error).toContain('messages');
    expect(fakes.ollama.count).toBe(0);
  });

  it('answers a request whose only non-system turn is an assistant turn', async () => {
    const res = await fn.invoke('POST', '/complete', {
      ...valid,
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'assistant', content: 'Hello.' },
      ],
    });
    expect(res.status).toBe(200);
  });

  it('accepts a tenant_id of 128 allowed characters', async () => {
    const res = await fn.invoke('POST', '/complete', { ...valid, tenant_id: `a.b_c:d-${'x'.repeat(120)}` });
    expect(res.status).toBe(200);
  });

  it('rejects an unknown model group, listing the known ones', async () => {
    const res = await fn.invoke('POST', '/complete', { ...valid, model: 'gpt-5' });
    expect(res.status).toBe(400);
    expect(res.body.error).toContain('gpt-5');
    expect(res.body.known_groups).toEqual(['fast', 'quality']);
    expect(res.body.error).toContain('fast, quality');
  });

  it('reads a base64-encoded body as Function URLs send one', async () => {
    const res = await fn.invoke('POST', '/complete', valid, { base64: true });
    expect(res.status).toBe(200);
    expect(res.body.content).toBe('answer from ollama');
  });
});

describe('404, 405 and 413', () => {
  it('answers 404 for an unknown path', async () => {
    const res = await fn.invoke('GET', '/v1/embeddings');
    expect(res.status).toBe(404);
    expect(res.body.error).toMatch(/POST \/complete/);
  });

  it('answers 405 with an Allow header for a wrong method', async () => {
    const get = await fn.invoke('GET', '/complete');
    expect(get.status).toBe(405);
    expect(get.headers.allow).toBe('POST');
    const post = await fn.invoke('POST', '/health', {});
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET');
  });

  it('answers 413 for a body over 1 MiB, before parsing it', async () => {
    const big = JSON.stringify({ ...valid, messages: [{ role: 'user', content: 'x'.repeat(1024 * 1024) }] });
    const res = await fn.invoke('POST', '/complete', big, { raw: true });
    expect(res.status).toBe(413);
    expect(res.body.error).toMatch(/1 MiB/);
    expect(fakes.ollama.count).toBe(0);
  });

  it('accepts a body just under 1 MiB', async () => {
    const content = 'x'.repeat(1024 * 1024 - 200);
    const res = await fn.invoke('POST', '/complete', { ...valid, messages: [{ role: 'user', content }] });
    expect(res.status).toBe(200);
  });

  it('answers 413 for an oversized base64 body too', async () => {
    const big = JSON.stringify({ ...valid, messages: [{ role: 'user', content: 'x'.repeat(1024 * 1024) }] });
    const res = await fn.invoke('POST', '/complete', big, { raw: true, base64: true });
    expect(res.status).toBe(413);
  });

  it('carries x-request-id on every response', async () => {
    for (const res of [await fn.invoke('GET', '/nope'), await fn.invoke('GET', '/complete'), await fn.health()]) {
      expect(res.headers['x-request-id']).toBeTruthy();
    }
  });
});

describe('/health', () => {
  it('reports every deployment without calling a provider', async () => {
    const res = await fn.health();
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
    expect(res.body.deployments.map((d: { deployment: string }) => d.deployment)).toEqual([
      'ollama/qwen3:8b',
      'anthropic/claude-sonnet-4-20250514',
      'openai/gpt-4o',
    ]);
    expect(fakes.anthropic.count + fakes.openai.count + fakes.ollama.count).toBe(0);
  });
});

describe('provider mapping', () => {
  it('sends Anthropic all system messages joined, same-role turns merged and max_tokens 1024', async () => {
    await fn.complete({
      model: 'quality',
      temperature: 1.7,
      messages: [
        { role: 'system', content: 'You are Ava.' },
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
        { role: 'user', content: 'Are you there?' },
        { role: 'assistant', content: 'Yes.' },
        { role: 'user', content: 'Good.' },
      ],
    });
    const body = fakes.anthropic.requests[0]!.body;
    expect(body.system).toBe('You are Ava.\n\nBe brief.');
    expect(body.messages).toEqual([
      { role: 'user', content: 'Hi\n\nAre you there?' },
      { role: 'assistant', content: 'Yes.' },
      { role: 'user', content: 'Good.' },
    ]);
    expect(body.max_tokens).toBe(1024);
    expect(body.temperature).toBe(1);
    expect(body.model).toBe('claude-sonnet-4-20250514');
  });

  it('reports finish_reason length when Anthropic stops at max_tokens', async () => {
    fakes.anthropic.next({ finish: 'length' });
    const res = await completeFunction(fakes).complete({ model: 'quality', max_tokens: 5 });
    expect(res.body.finish_reason).toBe('length');
    expect(fakes.anthropic.requests[0]!.body.max_tokens).toBe(5);
  });

  it('sends OpenAI the messages as they are, with max_completion_tokens and temperature', async () => {
    fakes.anthropic.always({ status: 500 });
    fakes.openai.next({ finish: 'length' });
    const messages = [
      { role: 'system', content: 'S' },
      { role: 'user', content: 'U' },
    ];
    const res = await completeFunction(fakes).complete({ model: 'quality', messages, max_tokens: 7, temperature: 1.5 });
    expect(res.body.finish_reason).toBe('length');
    expect(fakes.openai.requests[0]!.body).toMatchObject({
      model: 'gpt-4o',
      messages,
      max_completion_tokens: 7,
      temperature: 1.5,
    });
    expect(fakes.openai.requests[0]!.body).not.toHaveProperty('max_tokens');
  });

  it('strips a leading <think> block from Ollama answers and trims the rest', async () => {
    fakes.ollama.next({ content: '<think>\nThe user greets me. I should greet back.\n</think>\n\n  Hello there!  ' });
    const res = await fn.complete({ model: 'fast' });
    expect(res.body.content).toBe('Hello there!');
    expect(fakes.ollama.requests[0]!.body).toMatchObject({ model: 'qwen3:8b', stream: false });
  });

  it('keeps a <think> that is not leading', async () => {
    fakes.ollama.next({ content: 'Use <think>tags</think> like this.' });
    expect((await fn.complete({ model: 'fast' })).body.content).toBe('Use <think>tags</think> like this.');
  });

  it('passes max_tokens to Ollama as num_predict', async () => {
    await fn.complete({ model: 'fast', max_tokens: 9, temperature: 0.3 });
    expect(fakes.ollama.requests[0]!.body.options).toEqual({ num_predict: 9, temperature: 0.3 });
  });
});

describe('logs and cost attribution', () => {
  it('hold no key, prompt, reply or provider error text, even when providers fail', async () => {
    const output = await captureDuring(async () => {
      fakes.anthropic.always({ status: 500 });
      fakes.openai.always({ status: 429 });
      fakes.ollama.next({ status: 503 }, { reset: true }, { content: 'the secret reply' });
      const res = await completeFunction(fakes).complete({
        model: 'quality',
        messages: [{ role: 'user', content: 'my confidential prompt' }],
      });
      expect(res.body.content).toBe('the secret reply');
      fakes.ollama.always({ status: 500 });
      await completeFunction(fakes).complete({
        model: 'fast',
        messages: [{ role: 'user', content: 'my confidential prompt' }],
      });
    });
    const text = output.text();
    expect(text).toContain('"completion"');
    for (const forbidden of [
      ANTHROPIC_KEY,
      OPENAI_KEY,
      'my confidential prompt',
      'the secret reply',
      PROVIDER_ERROR_TEXT,
    ]) {
      expect(text).not.toContain(forbidden);
    }
  });

  it('writes one record per call that is both a log line and an EMF metric with tenant, tokens and cost', async () => {
    const output = await captureDuring(async () => {
      fakes.anthropic.next({ status: 500 });
      await completeFunction(fakes).complete({ model: 'quality', tenant_id: 'acme' });
    });
    const records = output.records().filter((r) => r.message === 'completion');
    expect(records).toHaveLength(1);
    const record = records[0]!;
    expect(record).toMatchObject({
      tenant_id: 'acme',
      group: 'quality',
      deployment: 'openai/gpt-4o',
      outcome: 'answered',
      PromptTokens: 12,
      CompletionTokens: 34,
      Attempts: 2,
    });
    expect(record.CostUSD).toBeCloseTo(12 * 2.5e-6 + 34 * 10e-6, 12);
    expect(record.attempts).toContainEqual(
      expect.objectContaining({
        deployment: 'anthropic/claude-sonnet-4-20250514',
        status: 500,
        error_kind: 'retryable',
        provider_request_id: 'req_fake_1',
      }),
    );
    const emf = (record._aws as { CloudWatchMetrics: { Dimensions: string[][]; Metrics: { Name: string }[] }[] })
      .CloudWatchMetrics[0]!;
    expect(emf.Dimensions).toEqual([['group', 'deployment'], ['group']]);
    expect(emf.Metrics.map((m) => m.Name)).toEqual(
      expect.arrayContaining(['LatencyMs', 'PromptTokens', 'CompletionTokens', 'CostUSD', 'Attempts']),
    );
    // Time to first token is a metric of streamed calls only: EMF would read a missing one as an error.
    expect(emf.Metrics.map((m) => m.Name)).not.toContain('TtftMs');
    expect(record).not.toHaveProperty('TtftMs');
  });

  it('records a 503 call too', async () => {
    const output = await captureDuring(async () => {
      fakes.ollama.always({ status: 500 });
      await completeFunction(fakes).complete({ model: 'fast', tenant_id: 'acme' });
    });
    const record = output.records().find((r) => r.message === 'completion')!;
    expect(record).toMatchObject({ tenant_id: 'acme', outcome: 'unavailable', Unavailable: 1, Attempts: 3 });
  });
});
