// The router's small parts: selection, cooldown windows, backoff bounds, message mapping.
import { describe, expect, it } from 'vitest';
import { toAnthropicMessages } from '../../functions/complete/providers/anthropic.ts';
import { stripThinking } from '../../functions/complete/providers/ollama.ts';
import { backoffMs } from '../../functions/complete/router/backoff.ts';
import { AUTH_COOLDOWN_MS, CooldownTracker } from '../../functions/complete/router/cooldown.ts';
import { LatencyTracker, selectDeployment } from '../../functions/complete/router/selection.ts';

const a = { id: 'a' };
const b = { id: 'b' };
const c = { id: 'c' };

describe('latency-based selection', () => {
  it('prefers never-measured deployments in configuration order', () => {
    const latency = new LatencyTracker();
    latency.record('a', 10);
    expect(selectDeployment([a, b, c], 'latency-based-routing', latency)).toBe(b);
  });

  it('then the lowest moving average, ties to configuration order', () => {
    const latency = new LatencyTracker();
    latency.record('a', 50);
    latency.record('b', 20);
    latency.record('c', 20);
    expect(selectDeployment([a, b, c], 'latency-based-routing', latency)).toBe(b);
  });

  it('averages with α = 0.3', () => {
    const latency = new LatencyTracker();
    latency.record('a', 100);
    latency.record('a', 200);
    expect(latency.get('a')).toBeCloseTo(130);
  });

  it('picks uniformly with simple-shuffle', () => {
    expect(selectDeployment([a, b, c], 'simple-shuffle', new LatencyTracker(), () => 0.7)).toBe(c);
  });
});

describe('cooldown', () => {
  it('starts after more than allowed_fails failures within 60 s, and ends after cooldown_time', () => {
    let now = 0;
    const tracker = new CooldownTracker(2, 30_000, () => now);
    tracker.recordFailure('a');
    tracker.recordFailure('a');
    expect(tracker.cooldownUntil('a')).toBeUndefined();
    tracker.recordFailure('a');
    expect(tracker.cooldownUntil('a')).toBe(30_000);
    now = 30_000;
    expect(tracker.cooldownUntil('a')).toBeUndefined();
  });

  it('forgets failures older than 60 s', () => {
    let now = 0;
    const tracker = new CooldownTracker(1, 30_000, () => now);
    tracker.recordFailure('a');
    now = 61_000;
    tracker.recordFailure('a');
    expect(tracker.cooldownUntil('a')).toBeUndefined();
  });

  it('cools down at once on a 429, for Retry-After when longer', () => {
    const tracker = new CooldownTracker(3, 30_000, () => 0);
    tracker.recordRateLimit('a', 5_000);
    tracker.recordRateLimit('b', 90_000);
    expect(tracker.cooldownUntil('a')).toBe(30_000);
    expect(tracker.cooldownUntil('b')).toBe(90_000);
  });

  it('keeps a rejected key out for 10 minutes', () => {
    const tracker = new CooldownTracker(3, 30_000, () => 0);
    tracker.recordAuthFailure('a');
    expect(tracker.cooldownUntil('a')).toBe(AUTH_COOLDOWN_MS);
    expect(AUTH_COOLDOWN_MS).toBe(600_000);
  });
});

describe('backoff', () => {
  it('is full jitter under min(2 s, 100 ms · 2^n)', () => {
    expect(backoffMs(1, () => 0.999)).toBeLessThan(100);
    expect(backoffMs(3, () => 0.999)).toBeLessThan(400);
    expect(backoffMs(3, () => 0.999)).toBeGreaterThan(390);
    expect(backoffMs(10, () => 0.999)).toBeLessThan(2_000);
    expect(backoffMs(2, () => 0)).toBe(0);
  });
});

describe('message mapping', () => {
  it('gives Anthropic no system field when there is no system message', () => {
    expect(toAnthropicMessages([{ role: 'user', content: 'x' }])).toEqual({
      messages: [{ role: 'user', content: 'x' }],
    });
  });

  it('strips only a leading think block', () => {
    expect(stripThinking('  <think>a\nb</think>\n ok ')).toBe('ok');
    expect(stripThinking('<think></think>')).toBe('');
    expect(stripThinking('plain')).toBe('plain');
  });
});
