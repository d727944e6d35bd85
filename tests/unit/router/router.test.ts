// The router's timing rules (backoff, deadline, 429 cooldowns) with an injected clock, random and sleep.
import { describe, expect, it } from 'vitest';
import { fail, scriptedRouter, T0 } from './scripted-router.ts';

describe('backoff between attempts', () => {
  it('waits a full-jitter backoff before each retry of the same deployment, growing per retry', async () => {
    const r = scriptedRouter({ 'openai/solo': [fail(500), fail(503)] }, { random: 0.5 });
    const result = await r.route('solo');
    expect(result.ok).toBe(true);
    // random 0.5 of min(2 s, 100 ms · 2^(n−1)): 50 ms before the first retry, 100 ms before the second.
    expect(r.sleeps).toEqual([
      { at: T0, ms: 50 },
      { at: T0 + 50, ms: 100 },
    ]);
    expect(r.calls.map((c) => c.at)).toEqual([T0, T0 + 50, T0 + 150]);
  });

  it('switches to another deployment of the group with no delay', async () => {
    const r = scriptedRouter({ 'openai/a': [fail(500)] });
    const result = await r.route('pair');
    expect(result.ok && result.deployment.id).toBe('openai/b');
    expect(r.sleeps).toEqual([]);
    expect(r.calls).toEqual([
      { deployment: 'openai/a', at: T0 },
      { deployment: 'openai/b', at: T0 },
    ]);
  });
});

describe('deadline', () => {
  it('never sleeps past the deadline: a backoff that would end after it ends the request', async () => {
    const r = scriptedRouter({ 'openai/solo': [fail(500), fail(500), fail(500)] }, { random: 0.99 });
    const deadline = T0 + 150;
    const result = await r.route('solo', 150);
    expect(result.ok).toBe(false);
    // The first backoff (99 ms) fits; the second (198 ms) would end past the deadline, so no third attempt.
    expect(r.sleeps).toEqual([{ at: T0, ms: 99 }]);
    expect(r.calls.map((c) => c.at)).toEqual([T0, T0 + 99]);
    for (const s of r.sleeps) expect(s.at + s.ms).toBeLessThan(deadline);
    expect(r.clock.now).toBeLessThan(deadline);
  });

  it("does not wait out a 429's Retry-After that ends past the deadline", async () => {
    const r = scriptedRouter({ 'openai/solo': [fail(429, { 'retry-after': '5' })] });
    const result = await r.route('solo', 2_000);
    expect(result.ok).toBe(false);
    expect(r.sleeps).toEqual([]);
    expect(r.calls).toHaveLength(1);
  });

  it("waits out a 429's Retry-After that fits, when no other deployment is left", async () => {
    const r = scriptedRouter({ 'openai/solo': [fail(429, { 'retry-after': '1' })] });
    const result = await r.route('solo', 5_000);
    expect(result.ok).toBe(true);
    expect(r.sleeps).toEqual([{ at: T0, ms: 1_000 }]);
    expect(r.calls.map((c) => c.at)).toEqual([T0, T0 + 1_000]);
  });

  it("still waits the retry's backoff when a 429's Retry-After is 0", async () => {
    const r = scriptedRouter({ 'openai/solo': [fail(429, { 'retry-after': '0' })] }, { random: 0.5 });
    const result = await r.route('solo', 5_000);
    expect(result.ok).toBe(true);
    expect(r.sleeps).toEqual([{ at: T0, ms: 50 }]); // full jitter of the first backoff (100 ms) at random 0.5
    expect(r.calls.map((c) => c.at)).toEqual([T0, T0 + 50]);
  });
});

describe('a 429 cools the deployment down for at least cooldown_time', () => {
  it.each([
    ['without Retry-After', undefined],
    ['with Retry-After: 0', { 'retry-after': '0' }],
    ['with retry-after-ms: 0', { 'retry-after-ms': '0' }],
  ])('%s', async (_name, headers) => {
    const r = scriptedRouter({ 'openai/a': [fail(429, headers)] });
    const first = await r.route('pair');
    expect(first.ok && first.deployment.id).toBe('openai/b');
    expect(r.health('openai/a')).toMatchObject({
      available: false,
      cooldown_until: new Date(T0 + 30_000).toISOString(),
    });

    r.clock.now = T0 + 29_999;
    const second = await r.route('pair');
    expect(second.ok && second.deployment.id).toBe('openai/b');
    expect(r.calls.filter((c) => c.deployment === 'openai/a')).toHaveLength(1);

    r.clock.now = T0 + 30_000;
    expect(r.health('openai/a').available).toBe(true);
  });
});
