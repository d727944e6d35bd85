// Backoff before retrying the same deployment: exponential with full jitter.
import { describe, expect, it } from 'vitest';
import { backoffMs } from '../../../functions/complete/router/backoff.ts';

describe('backoff', () => {
  it('is full jitter under min(2 s, 100 ms · 2^n)', () => {
    expect(backoffMs(1, () => 0.999)).toBeLessThan(100);
    expect(backoffMs(3, () => 0.999)).toBeLessThan(400);
    expect(backoffMs(3, () => 0.999)).toBeGreaterThan(390);
    expect(backoffMs(10, () => 0.999)).toBeLessThan(2_000);
    expect(backoffMs(2, () => 0)).toBe(0);
  });
});
