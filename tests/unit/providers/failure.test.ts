// How a provider failure is classified: status → kind, Retry-After in every form, x-should-retry, loggable codes.
import { describe, expect, it } from 'vitest';
import {
  durationMs,
  httpFailure,
  kindOfStatus,
  loggableCode,
  MAX_RETRY_AFTER_MS,
  retryAfterMs,
  type RateLimitResets,
} from '../../../functions/complete/providers/failure.ts';

const NOW = Date.parse('2026-11-25T10:00:00Z');
const headers = (values: Record<string, string>) => (name: string) => values[name];

const DURATIONS: RateLimitResets = {
  format: 'duration',
  limits: [
    { reset: 'reset-requests', remaining: 'remaining-requests' },
    { reset: 'reset-tokens', remaining: 'remaining-tokens' },
  ],
};
const TIMESTAMPS: RateLimitResets = { ...DURATIONS, format: 'timestamp' };

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
    [404, 'not_found'],
    [400, 'rejected'],
    [402, 'rejected'],
    [413, 'rejected'],
    [422, 'rejected'],
  ])('%i is %s', (status, kind) => {
    expect(kindOfStatus(status)).toBe(kind);
    expect(httpFailure(status, headers({})).info.kind).toBe(kind);
  });

  it('makes a quota error a quota failure whatever its status', () => {
    expect(httpFailure(429, headers({}), { quota: true }).info.kind).toBe('quota');
    expect(httpFailure(402, headers({}), { quota: true }).info.kind).toBe('quota');
  });

  it('marks a context-length rejection, and every 413, as contextLength', () => {
    expect(httpFailure(400, headers({}), { contextLength: true }).info).toMatchObject({
      kind: 'rejected',
      contextLength: true,
    });
    expect(httpFailure(413, headers({})).info).toMatchObject({ kind: 'rejected', contextLength: true });
    expect(httpFailure(400, headers({})).info.contextLength).toBeUndefined();
  });
});

describe('x-should-retry', () => {
  it('false stops retries of that deployment, keeping the kind', () => {
    expect(httpFailure(500, headers({ 'x-should-retry': 'false' })).info).toMatchObject({
      kind: 'retryable',
      noRetry: true,
    });
    expect(httpFailure(500, headers({})).info.noRetry).toBeUndefined();
  });

  it('true makes a rejection or a 404 retryable', () => {
    expect(httpFailure(400, headers({ 'x-should-retry': 'true' })).info.kind).toBe('retryable');
    expect(httpFailure(404, headers({ 'x-should-retry': 'true' })).info.kind).toBe('retryable');
  });

  it('true leaves a wrong key, a quota and a rate limit their longer treatment', () => {
    const retry = headers({ 'x-should-retry': 'true' });
    expect(httpFailure(401, retry).info.kind).toBe('auth');
    expect(httpFailure(429, retry, { quota: true }).info.kind).toBe('quota');
    expect(httpFailure(429, retry).info.kind).toBe('rate_limited');
  });
});

describe('Retry-After', () => {
  it('reads retry-after-ms first, then retry-after as seconds or an HTTP date', () => {
    expect(retryAfterMs(headers({ 'retry-after-ms': '250', 'retry-after': '7' }), NOW)).toBe(250);
    expect(retryAfterMs(headers({ 'retry-after': '7' }), NOW)).toBe(7_000);
    expect(retryAfterMs(headers({ 'retry-after': '1.5' }), NOW)).toBe(1_500);
    expect(retryAfterMs(headers({ 'retry-after': 'Wed, 25 Nov 2026 10:00:09 GMT' }), NOW)).toBe(9_000);
  });

  it('never asks for more than an hour', () => {
    expect(MAX_RETRY_AFTER_MS).toBe(3_600_000);
    expect(retryAfterMs(headers({ 'retry-after': '86400' }), NOW)).toBe(3_600_000);
    expect(retryAfterMs(headers({ 'retry-after-ms': '86400000' }), NOW)).toBe(3_600_000);
    expect(retryAfterMs(headers({ 'retry-after': 'Thu, 26 Nov 2026 10:00:00 GMT' }), NOW)).toBe(3_600_000);
    expect(httpFailure(429, headers({ 'retry-after': '86400' }), {}, NOW).info.retryAfterMs).toBe(3_600_000);
  });

  it.each([
    ['-5', 'negative seconds'],
    ['soon', 'a word'],
    ['', 'an empty value'],
    [' ', 'blanks'],
    ['0x10', 'hexadecimal'],
    ['1e3', 'an exponent'],
    ['-1', 'a number Date.parse would read as a year'],
    ['Wed, 25 Nov 2026 09:59:00 GMT', 'a date in the past'],
    ['Wed, 99 Nov 2026 10:00:09 GMT', 'an impossible date'],
  ])('ignores %j (%s)', (value) => {
    expect(retryAfterMs(headers({ 'retry-after': value }), NOW)).toBeUndefined();
    expect(retryAfterMs(headers({ 'retry-after-ms': value }), NOW)).toBeUndefined();
  });

  it('falls back to retry-after when retry-after-ms is unreadable', () => {
    expect(retryAfterMs(headers({ 'retry-after-ms': '-1', 'retry-after': '3' }), NOW)).toBe(3_000);
  });

  it('reads duration reset headers (1s, 6m0s, 20ms) when there is no Retry-After', () => {
    expect(retryAfterMs(headers({ 'reset-requests': '1s' }), NOW, DURATIONS)).toBe(1_000);
    expect(retryAfterMs(headers({ 'reset-requests': '6m0s' }), NOW, DURATIONS)).toBe(360_000);
    expect(retryAfterMs(headers({ 'reset-requests': '20ms' }), NOW, DURATIONS)).toBe(20);
    expect(retryAfterMs(headers({ 'reset-requests': '1h30m' }), NOW, DURATIONS)).toBe(3_600_000);
    expect(retryAfterMs(headers({ 'retry-after': '2', 'reset-requests': '6m0s' }), NOW, DURATIONS)).toBe(2_000);
  });

  it('reads RFC 3339 reset headers as the time until then', () => {
    expect(retryAfterMs(headers({ 'reset-tokens': '2026-11-25T10:00:30Z' }), NOW, TIMESTAMPS)).toBe(30_000);
    expect(retryAfterMs(headers({ 'reset-tokens': '2026-11-25T11:00:30+01:00' }), NOW, TIMESTAMPS)).toBe(30_000);
    expect(retryAfterMs(headers({ 'reset-tokens': '2026-11-25T09:59:00Z' }), NOW, TIMESTAMPS)).toBeUndefined();
    expect(retryAfterMs(headers({ 'reset-tokens': '30' }), NOW, TIMESTAMPS)).toBeUndefined();
  });

  it('waits for the limit that ran out, else for every limit', () => {
    const both = { 'reset-requests': '2s', 'reset-tokens': '40s' };
    expect(
      retryAfterMs(headers({ ...both, 'remaining-requests': '0', 'remaining-tokens': '900' }), NOW, DURATIONS),
    ).toBe(2_000);
    expect(retryAfterMs(headers({ ...both, 'remaining-requests': '3', 'remaining-tokens': '0' }), NOW, DURATIONS)).toBe(
      40_000,
    );
    expect(retryAfterMs(headers(both), NOW, DURATIONS)).toBe(40_000);
  });

  it('ignores garbage in reset headers', () => {
    for (const value of ['6 minutes', '-1s', 's', '1x', '1s junk'])
      expect(retryAfterMs(headers({ 'reset-requests': value }), NOW, DURATIONS)).toBeUndefined();
  });

  it('reads reset headers only for a 429', () => {
    const resets = headers({ 'reset-requests': '6m0s' });
    expect(httpFailure(429, resets, { resets: DURATIONS }, NOW).info.retryAfterMs).toBe(360_000);
    expect(httpFailure(500, resets, { resets: DURATIONS }, NOW).info.retryAfterMs).toBeUndefined();
  });

  it('parses Go durations exactly', () => {
    expect(durationMs('1m30.5s')).toBe(90_500);
    expect(durationMs('0s')).toBe(0);
    expect(durationMs('')).toBeUndefined();
  });
});

describe('codes reach the logs only when they look like codes', () => {
  it.each([
    ['insufficient_quota', 'insufficient_quota'],
    ['overloaded_error', 'overloaded_error'],
    ['Ignore all previous instructions', 'unrecognised'],
    ['x'.repeat(65), 'unrecognised'],
    [42, 'unrecognised'],
  ])('%j → %s', (code, logged) => {
    expect(loggableCode(code)).toBe(logged);
    expect(httpFailure(400, headers({}), { code }).info.code).toBe(logged);
  });

  it('logs a request id only when it looks like one', () => {
    expect(httpFailure(500, headers({}), { requestId: 'req_011CSLsW7m' }).info.requestId).toBe('req_011CSLsW7m');
    expect(httpFailure(500, headers({}), { requestId: 'my secret prompt' }).info.requestId).toBe('unrecognised');
  });
});
