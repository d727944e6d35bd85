// The router's rules (routing, retries, cooldowns, fallbacks, deadline) through the real handler, SDKs and fake providers.
import { describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../functions/complete/config.ts';
import { PROVIDER_ERROR_TEXT, useFakeProviders } from '../fakes/provider-server.ts';
import { ANTHROPIC_KEY, OPENAI_KEY, completeFunction } from '../helpers/function-url.ts';

const ANTHROPIC = 'anthropic/claude-sonnet-4-20250514';
const OPENAI = 'openai/gpt-4o';
const OLLAMA = 'ollama/qwen3:8b';

/** The default model list with other router settings (e.g. short cooldowns so tests can wait them out). */
function withSettings(
  settings: NonNullable<ConfigFile['router_settings']>,
  timeouts: Record<string, number> = {},
): ConfigFile {
  return {
    model_list: [
      { model_name: 'fast', litellm_params: { model: OLLAMA, timeout: timeouts[OLLAMA] } },
      { model_name: 'quality', litellm_params: { model: ANTHROPIC, timeout: timeouts[ANTHROPIC] } },
      { model_name: 'quality', litellm_params: { model: OPENAI, timeout: timeouts[OPENAI] } },
    ],
    router_settings: { fallbacks: [{ quality: ['fast'] }], ...settings },
  };
}

const fakes = useFakeProviders();

describe('routing across providers and fallbacks', () => {
  it('answers quality from Anthropic, naming the deployment, usage and finish reason', async () => {
    const fn = completeFunction(fakes);
    const res = await fn.complete({ model: 'quality' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      content: 'answer from anthropic',
      model: ANTHROPIC,
      usage: { prompt_tokens: 12, completion_tokens: 34 },
      finish_reason: 'stop',
      model_group: 'quality',
      fallback: false,
      attempts: 1,
    });
    expect(res.body.cost_usd).toBeCloseTo(12 * 3e-6 + 34 * 15e-6, 12);
    expect(res.headers['x-request-id']).toMatch(/[0-9a-f-]{36}/);
    const { headers } = fakes.anthropic.requests[0]!;
    expect(headers['x-api-key'] ?? headers.authorization?.replace('Bearer ', '')).toBe(ANTHROPIC_KEY);
  });

  it('moves to OpenAI when Anthropic answers 500', async () => {
    fakes.anthropic.always({ status: 500 });
    const res = await completeFunction(fakes).complete({ model: 'quality' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ content: 'answer from openai', model: OPENAI, fallback: false, attempts: 2 });
    expect(fakes.openai.requests[0]!.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`);
  });

  it('falls back to fast (Ollama) when both quality deployments fail', async () => {
    fakes.anthropic.always({ status: 500 });
    fakes.openai.always({ status: 503 });
    const res = await completeFunction(fakes).complete({ model: 'quality' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      content: 'answer from ollama',
      model: OLLAMA,
      model_group: 'fast',
      fallback: true,
    });
    expect(res.body.cost_usd).toBe(0);
  });

  it('answers 503 "All providers unavailable" with every attempt and no secret when all fail', async () => {
    fakes.anthropic.always({ status: 500 });
    fakes.openai.always({ status: 502 });
    fakes.ollama.always({ status: 500 });
    const res = await completeFunction(fakes).complete({
      model: 'quality',
      messages: [{ role: 'user', content: 'my private question' }],
    });
    expect(res.status).toBe(503);
    expect(res.body.error).toBe('All providers unavailable');
    const attempts = res.body.attempts as { group: string; deployment: string; outcome: string; status?: number }[];
    expect(attempts.filter((a) => a.group === 'quality')).toHaveLength(3);
    expect(attempts.filter((a) => a.group === 'fast')).toHaveLength(3);
    expect(attempts[0]).toEqual({ group: 'quality', deployment: ANTHROPIC, outcome: 'error', status: 500 });
    const text = JSON.stringify(res);
    for (const secret of [ANTHROPIC_KEY, OPENAI_KEY, PROVIDER_ERROR_TEXT, 'my private question'])
      expect(text).not.toContain(secret);
  });

  it('tries a 400-rejecting deployment once, then the others and the fallbacks', async () => {
    fakes.anthropic.always({ status: 400 });
    fakes.openai.always({ status: 422 });
    const res = await completeFunction(fakes).complete({ model: 'quality' });
    expect(res.status).toBe(200);
    expect(res.body.model).toBe(OLLAMA);
    expect(fakes.anthropic.count).toBe(1);
    expect(fakes.openai.count).toBe(1);
  });
});

describe('attempt budget: 1 + num_retries per group, SDK retries off', () => {
  it('never sends more than 1 + num_retries requests per group', async () => {
    fakes.anthropic.always({ status: 500 });
    fakes.openai.always({ status: 500 });
    fakes.ollama.always({ status: 500 });
    const res = await completeFunction(fakes).complete({ model: 'quality' });
    expect(res.status).toBe(503);
    expect(fakes.anthropic.count + fakes.openai.count).toBe(3);
    expect(fakes.ollama.count).toBe(3);
  });

  it('sends exactly one request per attempt with num_retries 0, even on 429 and 503 (which SDKs would retry)', async () => {
    fakes.anthropic.always({ status: 429 });
    fakes.openai.always({ status: 503 });
    fakes.ollama.always({ status: 503 });
    const fn = completeFunction(fakes, { config: withSettings({ num_retries: 0 }) });
    const res = await fn.complete({ model: 'quality' });
    expect(res.status).toBe(503);
    expect(fakes.anthropic.count + fakes.openai.count).toBe(1);
    expect(fakes.ollama.count).toBe(1);
  });

  it('retries the same deployment after a backoff when it is the only one left', async () => {
    fakes.ollama.next({ status: 500 }, { status: 502 });
    const res = await completeFunction(fakes).complete({ model: 'fast' });
    expect(res.status).toBe(200);
    expect(res.body.attempts).toBe(3);
    expect(fakes.ollama.count).toBe(3);
  });
});

describe('cooldowns', () => {
  it('skips a deployment that answered 429 with Retry-After in the next request', async () => {
    fakes.anthropic.next({ status: 429, headers: { 'retry-after': '120' } });
    const fn = completeFunction(fakes);
    const first = await fn.complete({ model: 'quality' });
    expect(first.body.model).toBe(OPENAI);
    const second = await fn.complete({ model: 'quality' });
    expect(second.body.model).toBe(OPENAI);
    expect(fakes.anthropic.count).toBe(1);
    const health = await fn.health();
    const anthropic = health.body.deployments.find((d: { deployment: string }) => d.deployment === ANTHROPIC);
    expect(anthropic.available).toBe(false);
    // Retry-After (120 s) is longer than cooldown_time (30 s), so it wins.
    expect(Date.parse(anthropic.cooldown_until) - Date.now()).toBeGreaterThan(100_000);
  });

  it('counts a deployment skipped for its cooldown as no attempt', async () => {
    fakes.anthropic.next({ status: 429, headers: { 'retry-after': '120' } });
    const fn = completeFunction(fakes, { config: withSettings({ num_retries: 0 }) });
    expect((await fn.complete({ model: 'quality' })).body.model).toBe(OLLAMA); // the 429 used quality's one attempt
    fakes.openai.next({ status: 500 });
    const res = await fn.complete({ model: 'quality' });
    expect(res.body).toMatchObject({ model: OLLAMA, fallback: true, attempts: 2 }); // openai, then ollama
    expect(fakes.anthropic.count).toBe(1);
  });

  it('puts a deployment whose key is rejected (401) in a long cooldown', async () => {
    fakes.anthropic.expectedKey = 'another-key';
    const fn = completeFunction(fakes);
    const res = await fn.complete({ model: 'quality' });
    expect(res.body.model).toBe(OPENAI);
    await fn.complete({ model: 'quality' });
    expect(fakes.anthropic.count).toBe(1);
    const anthropic = (await fn.health()).body.deployments.find(
      (d: { deployment: string }) => d.deployment === ANTHROPIC,
    );
    expect(anthropic.available).toBe(false);
    const left = Date.parse(anthropic.cooldown_until) - Date.now();
    expect(left).toBeGreaterThan(9 * 60_000);
    expect(left).toBeLessThanOrEqual(10 * 60_000);
  });

  it('cools a deployment down after more than allowed_fails retryable failures', async () => {
    fakes.ollama.always({ status: 500 });
    const fn = completeFunction(fakes, { config: withSettings({ allowed_fails: 1, num_retries: 0 }) });
    await fn.complete({ model: 'fast' }); // ollama fails once
    await fn.complete({ model: 'fast' }); // the only deployment of fast, so tried again: fails again
    const before = fakes.ollama.count;
    expect(before).toBe(2);
    const res = await fn.complete({ model: 'fast' });
    expect(fakes.ollama.count).toBe(before); // second failure crossed allowed_fails = 1: cooling down
    expect(res.body.attempts).toEqual([{ group: 'fast', deployment: OLLAMA, outcome: 'skipped', reason: 'cooldown' }]);
    const health = await fn.health();
    expect(health.body.deployments.find((d: { deployment: string }) => d.deployment === OLLAMA).available).toBe(false);
  });

  it('uses the deployment again once its cooldown is over', async () => {
    fakes.anthropic.next({ status: 429, headers: { 'retry-after': '1' } });
    let now = Date.parse('2026-03-01T12:00:00Z'); // the function's clock: it moves only when this test moves it
    const fn = completeFunction(fakes, { config: withSettings({ cooldown_time: 1 }), now: () => now });
    const available = async () =>
      (await fn.health()).body.deployments.find((d: { deployment: string }) => d.deployment === ANTHROPIC).available;
    expect((await fn.complete({ model: 'quality' })).body.model).toBe(OPENAI);
    now += 999;
    expect((await fn.complete({ model: 'quality' })).body.model).toBe(OPENAI);
    expect(fakes.anthropic.count).toBe(1);
    expect(await available()).toBe(false);
    now += 1;
    expect(await available()).toBe(true);
    // Its 429 is less than 60 s old, so it ranks after OpenAI, but it is tried again when OpenAI fails.
    fakes.openai.next({ status: 500 });
    expect((await fn.complete({ model: 'quality' })).body.model).toBe(ANTHROPIC);
  });

  it('waits out its own 429 Retry-After when no other deployment is left and the deadline allows', async () => {
    fakes.ollama.next({ status: 429, headers: { 'retry-after': '1' } });
    const fn = completeFunction(fakes);
    const started = Date.now();
    const res = await fn.complete({ model: 'fast', timeout_ms: 5_000 });
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(fakes.ollama.count).toBe(2);
  });

  it('gives a 503 a Retry-After header with the seconds until the earliest cooldown ends', async () => {
    fakes.ollama.always({ status: 429, headers: { 'retry-after': '45' } });
    const res = await completeFunction(fakes).complete({ model: 'fast', timeout_ms: 2_000 });
    expect(res.status).toBe(503);
    expect(Number(res.headers['retry-after'])).toBeGreaterThanOrEqual(44);
    expect(Number(res.headers['retry-after'])).toBeLessThanOrEqual(45);
  });
});

describe('deadline', () => {
  it('answers within timeout_ms when every provider hangs', async () => {
    fakes.anthropic.always({ hang: true });
    fakes.openai.always({ hang: true });
    fakes.ollama.always({ hang: true });
    const started = Date.now();
    const res = await completeFunction(fakes).complete({ model: 'quality', timeout_ms: 600 });
    const took = Date.now() - started;
    expect(res.status).toBe(503);
    expect(took).toBeLessThan(600 + 1_000); // generous margin for a loaded CI machine
    expect(res.body.attempts[0]).toMatchObject({ deployment: ANTHROPIC, outcome: 'timeout' });
    expect(res.body.attempts).toContainEqual({
      group: 'fast',
      deployment: OLLAMA,
      outcome: 'skipped',
      reason: 'deadline',
    });
  });

  it('moves on from a hanging deployment after its own timeout and answers within the deadline', async () => {
    fakes.anthropic.always({ hang: true });
    const fn = completeFunction(fakes, { config: withSettings({}, { [ANTHROPIC]: 1 }) });
    const started = Date.now();
    const res = await fn.complete({ model: 'quality', timeout_ms: 5_000 });
    expect(res.status).toBe(200);
    expect(res.body.model).toBe(OPENAI);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("stops before the Lambda's remaining time runs out, whatever timeout_ms says", async () => {
    fakes.anthropic.always({ hang: true });
    fakes.openai.always({ hang: true });
    fakes.ollama.always({ hang: true });
    const fn = completeFunction(fakes, { lambdaTimeoutMs: 2_000 });
    const started = Date.now();
    const res = await fn.complete({ model: 'quality', timeout_ms: 60_000 });
    expect(res.status).toBe(503);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe('latency-based selection', () => {
  it('prefers the faster deployment of a group once both are measured', async () => {
    fakes.anthropic.always({ delayMs: 120 });
    const fn = completeFunction(fakes);
    expect((await fn.complete({ model: 'quality' })).body.model).toBe(ANTHROPIC); // unmeasured, first in order
    expect((await fn.complete({ model: 'quality' })).body.model).toBe(OPENAI); // unmeasured
    for (let i = 0; i < 5; i++) expect((await fn.complete({ model: 'quality' })).body.model).toBe(OPENAI);
    const health = await fn.health();
    const latency = Object.fromEntries(
      health.body.deployments.map((d: { deployment: string; latency_ms?: number }) => [d.deployment, d.latency_ms]),
    );
    expect(latency[ANTHROPIC]).toBeGreaterThan(latency[OPENAI]);
  });

  it('spreads requests at random with simple-shuffle', async () => {
    const fn = completeFunction(fakes, { config: withSettings({ routing_strategy: 'simple-shuffle' }) });
    const models = new Set<string>();
    for (let i = 0; i < 30; i++) models.add((await fn.complete({ model: 'quality' })).body.model);
    expect(models).toEqual(new Set([ANTHROPIC, OPENAI]));
  });
});

describe('deployments without credentials', () => {
  it('are unavailable in /health and skipped, never attempted', async () => {
    const fn = completeFunction(fakes, { env: { ANTHROPIC_API_KEY: undefined, OPENAI_API_KEY: '' } });
    const health = await fn.health();
    expect(health.status).toBe(200);
    expect(health.body.status).toBe('ok');
    expect(health.body.deployments).toEqual([
      { group: 'fast', deployment: OLLAMA, available: true },
      { group: 'quality', deployment: ANTHROPIC, available: false, reason: 'no credentials' },
      { group: 'quality', deployment: OPENAI, available: false, reason: 'no credentials' },
    ]);
    const res = await fn.complete({ model: 'quality' });
    expect(res.body).toMatchObject({ model: OLLAMA, fallback: true, attempts: 1 }); // skipped deployments are no attempts
    fakes.ollama.always({ status: 500 });
    const failed = await fn.complete({ model: 'quality' });
    expect(failed.status).toBe(503);
    expect(failed.body.attempts).toContainEqual({
      group: 'quality',
      deployment: ANTHROPIC,
      outcome: 'skipped',
      reason: 'no credentials',
    });
    expect(fakes.anthropic.count + fakes.openai.count).toBe(0);
  });
});
