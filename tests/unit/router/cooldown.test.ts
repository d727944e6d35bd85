// Which deployments every request skips: failure windows, 429s, 404s and long cooldowns, all capped.
import { describe, expect, it } from 'vitest';
import { CooldownTracker, LONG_COOLDOWN_MS, MAX_COOLDOWN_MS } from '../../../functions/complete/router/cooldown.ts';

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

  it('never cools down for more than 3600 s, whatever Retry-After says', () => {
    const tracker = new CooldownTracker(3, 30_000, () => 0);
    tracker.recordRateLimit('a', 86_400_000);
    expect(tracker.cooldownUntil('a')).toBe(MAX_COOLDOWN_MS);
    expect(MAX_COOLDOWN_MS).toBe(3_600_000);
  });

  it('cools down at once on a 404, for cooldown_time', () => {
    const tracker = new CooldownTracker(3, 30_000, () => 0);
    tracker.recordNotFound('a');
    expect(tracker.cooldownUntil('a')).toBe(30_000);
  });

  it('keeps a rejected key or an exhausted quota out for 10 minutes', () => {
    const tracker = new CooldownTracker(3, 30_000, () => 0);
    tracker.recordLastingFailure('a');
    expect(tracker.cooldownUntil('a')).toBe(LONG_COOLDOWN_MS);
    expect(LONG_COOLDOWN_MS).toBe(600_000);
  });
});
