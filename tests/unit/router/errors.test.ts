// Provider failures as classified values: the status classes and Retry-After parsing.
import { describe, expect, it } from 'vitest';
import { kindOfStatus, retryAfterMs } from '../../../functions/complete/router/errors.ts';

describe('error classes', () => {
  it.each([
    [500, 'retryable'],
    [503, 'retryable'],
    [529, 'retryable'],
    [408, 'retryable'],
    [409, 'retryable'],
    [429, 'rate_limited'],
    [401, 'auth'],
    [403, 'auth'],
    [400, 'rejected'],
    [404, 'rejected'],
    [413, 'rejected'],
    [422, 'rejected'],
  ])('%i is %s', (status, kind) => {
    expect(kindOfStatus(status)).toBe(kind);
  });
});

describe('Retry-After', () => {
  it('reads Retry-After as seconds, an HTTP date, or retry-after-ms', () => {
    expect(retryAfterMs((n) => (n === 'retry-after' ? '7' : null))).toBe(7_000);
    expect(retryAfterMs((n) => (n === 'retry-after-ms' ? '250' : n === 'retry-after' ? '7' : null))).toBe(250);
    const now = Date.parse('2026-11-25T10:00:00Z');
    expect(retryAfterMs((n) => (n === 'retry-after' ? 'Wed, 25 Nov 2026 10:00:09 GMT' : null), now)).toBe(9_000);
    expect(retryAfterMs(() => 'soon')).toBeUndefined();
    expect(retryAfterMs(() => null)).toBeUndefined();
  });
});
