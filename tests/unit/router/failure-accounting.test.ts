// What a failed attempt does to its deployment for later requests: rank, cooldown, latency average.
import { describe, expect, it } from 'vitest';
import { fail, failWith, scriptedRouter, T0 } from './scripted-router.ts';

const NOT_FOUND = failWith({ kind: 'not_found', status: 404 });
const REJECTED = failWith({ kind: 'rejected', status: 400, code: 'invalid_request_error' });

describe('a deployment whose last attempt failed less than 60 s ago ranks after the others', () => {
  it('sends the next requests to the other deployment, though the failed one was never measured', async () => {
    const r = scriptedRouter({ 'openai/a': [fail(500)] });
    expect(await r.answeredBy('pair')).toBe('openai/b');
    expect(await r.answeredBy('pair')).toBe('openai/b');
    r.clock.now = T0 + 59_999;
    expect(await r.answeredBy('pair')).toBe('openai/b');
    expect(r.callsTo('openai/a')).toBe(1);
    r.clock.now = T0 + 60_000; // the failure is 60 s old: a is unmeasured again, so it goes first
    expect(await r.answeredBy('pair')).toBe('openai/a');
  });

  it('is cleared by a success', async () => {
    const r = scriptedRouter({ 'openai/a': [fail(500)], 'openai/b': [{ answerAfterMs: 10 }, fail(500)] });
    expect(await r.answeredBy('pair')).toBe('openai/b'); // a failed
    expect(await r.answeredBy('pair')).toBe('openai/a'); // b (first) failed, a answered: a's failure is cleared
    expect(await r.answeredBy('pair')).toBe('openai/a'); // and b's is recent
    expect(r.calls.map((c) => c.deployment)).toEqual(['openai/a', 'openai/b', 'openai/b', 'openai/a', 'openai/a']);
  });
});

describe('a failure counts as recent from when it arrived, not from when its attempt started', () => {
  it.each(['simple-shuffle', 'least-busy'] as const)(
    'a 60 s timeout keeps the hanging deployment behind the other for the next 60 s (%s)',
    async (strategy) => {
      const r = scriptedRouter(
        { 'openai/a': [{ timeoutAfterMs: 60_000 }] },
        { settings: { routing_strategy: strategy }, random: 0 },
      );
      expect(await r.answeredBy('pair', 120_000)).toBe('openai/b'); // a hung for 60 s, then b answered
      const failedAt = r.clock.now;
      r.clock.now = failedAt + 59_000;
      expect(await r.answeredBy('pair')).toBe('openai/b');
      expect(r.callsTo('openai/a')).toBe(1);
      r.clock.now = failedAt + 60_000;
      expect(await r.answeredBy('pair')).toBe('openai/a');
    },
  );
});

describe('a 404 cools the deployment down at once', () => {
  it('the 404 deployment receives at most one of six sequential requests', async () => {
    const r = scriptedRouter({ 'openai/a': NOT_FOUND });
    for (let i = 0; i < 6; i++) {
      expect(await r.answeredBy('pair')).toBe('openai/b');
      r.clock.now += 10_000; // past its 30 s cooldown, its recent failure still ranks it last
    }
    expect(r.callsTo('openai/a')).toBe(1);
  });

  it('also with cooldown_time 0, by its rank alone', async () => {
    const r = scriptedRouter({ 'openai/a': NOT_FOUND }, { settings: { cooldown_time: 0 } });
    for (let i = 0; i < 6; i++) expect(await r.answeredBy('pair')).toBe('openai/b');
    expect(r.callsTo('openai/a')).toBe(1);
  });

  it('is in cooldown for cooldown_time and not tried again in the same request', async () => {
    const r = scriptedRouter({ 'openai/solo': NOT_FOUND });
    const result = await r.route('solo');
    expect(result.ok).toBe(false);
    expect(r.callsTo('openai/solo')).toBe(1);
    expect(r.health('openai/solo')).toMatchObject({
      available: false,
      cooldown_until: new Date(T0 + 30_000).toISOString(),
    });
  });

  it('is not tried again in the same request, even with cooldown_time 0', async () => {
    const r = scriptedRouter({ 'openai/solo': NOT_FOUND }, { settings: { cooldown_time: 0 } });
    expect((await r.route('solo')).ok).toBe(false);
    expect(r.callsTo('openai/solo')).toBe(1);
  });
});

describe('a rejection counts against the deployment that rejected it when another of the group answers', () => {
  it('the rejecting deployment ranks last after another answered', async () => {
    const r = scriptedRouter({ 'openai/a': REJECTED });
    expect(await r.answeredBy('pair')).toBe('openai/b');
    // b is measured now and a is not: without the rejection counted, a would be tried first again.
    for (let i = 0; i < 5; i++) expect(await r.answeredBy('pair')).toBe('openai/b');
    expect(r.callsTo('openai/a')).toBe(1);
  });

  it('counts toward allowed_fails', async () => {
    const r = scriptedRouter({ 'openai/a': REJECTED }, { settings: { allowed_fails: 0 } });
    expect(await r.answeredBy('pair')).toBe('openai/b');
    expect(r.health('openai/a')).toMatchObject({ available: false });
  });

  it('is not counted when no deployment of the group answers the request', async () => {
    const r = scriptedRouter({ 'openai/a': [REJECTED], 'openai/b': [REJECTED] }, { settings: { allowed_fails: 0 } });
    expect((await r.route('pair')).ok).toBe(false);
    expect(r.health('openai/a').available).toBe(true);
    expect(await r.answeredBy('pair')).toBe('openai/a'); // still first: the request, not a, was at fault
  });

  it('is not counted when only a fallback group answers', async () => {
    const r = scriptedRouter(
      { 'openai/a': [REJECTED], 'openai/b': [REJECTED] },
      { settings: { allowed_fails: 0, fallbacks: [{ pair: ['solo'] }] } },
    );
    expect(await r.answeredBy('pair')).toBe('openai/solo');
    expect(r.health('openai/a').available).toBe(true);
    expect(await r.answeredBy('pair')).toBe('openai/a');
  });

  it('is never counted for a context-length rejection (the request was too long for that model)', async () => {
    const r = scriptedRouter(
      { 'openai/a': [failWith({ kind: 'rejected', status: 400, contextLength: true })] },
      { settings: { allowed_fails: 0 } },
    );
    expect(await r.answeredBy('pair')).toBe('openai/b');
    expect(r.health('openai/a').available).toBe(true);
    expect(await r.answeredBy('pair')).toBe('openai/a');
  });

  it('is not retried on the rejecting deployment in the same request', async () => {
    const r = scriptedRouter({ 'openai/solo': REJECTED });
    expect((await r.route('solo')).ok).toBe(false);
    expect(r.callsTo('openai/solo')).toBe(1);
  });
});

describe('401/403 and exhausted quotas cool the deployment down for 10 minutes', () => {
  it.each([
    ['a rejected key', { kind: 'auth', status: 401 }],
    ['an exhausted quota', { kind: 'quota', status: 429, code: 'insufficient_quota' }],
  ] as const)('%s', async (_name, failure) => {
    const r = scriptedRouter({ 'openai/a': [failWith(failure)] });
    expect(await r.answeredBy('pair')).toBe('openai/b');
    expect(r.health('openai/a')).toMatchObject({
      available: false,
      cooldown_until: new Date(T0 + 600_000).toISOString(),
    });
    r.clock.now = T0 + 599_999;
    expect(r.health('openai/a').available).toBe(false);
    r.clock.now = T0 + 600_000;
    expect(r.health('openai/a').available).toBe(true);
  });

  it('does not retry an exhausted quota in the same request, nor wait out its Retry-After', async () => {
    const r = scriptedRouter({ 'openai/solo': failWith({ kind: 'quota', status: 429, retryAfterMs: 1_000 }) });
    expect((await r.route('solo')).ok).toBe(false);
    expect(r.callsTo('openai/solo')).toBe(1);
    expect(r.sleeps).toEqual([]);
  });
});

describe('x-should-retry: false stops retries of that deployment in this request', () => {
  it('after a retryable failure', async () => {
    const r = scriptedRouter({ 'openai/solo': failWith({ kind: 'retryable', status: 503, noRetry: true }) });
    expect((await r.route('solo')).ok).toBe(false);
    expect(r.callsTo('openai/solo')).toBe(1);
    expect(r.sleeps).toEqual([]);
  });

  it('after a 429, whose Retry-After is then not waited out', async () => {
    const r = scriptedRouter({
      'openai/solo': [failWith({ kind: 'rate_limited', status: 429, retryAfterMs: 1_000, noRetry: true })],
    });
    expect((await r.route('solo')).ok).toBe(false);
    expect(r.callsTo('openai/solo')).toBe(1);
    expect(r.sleeps).toEqual([]);
  });

  it('while the other deployments are still tried', async () => {
    const r = scriptedRouter({ 'openai/a': failWith({ kind: 'retryable', status: 500, noRetry: true }) });
    expect(await r.answeredBy('pair')).toBe('openai/b');
  });
});

describe('a timed-out attempt records its full duration in the latency average', () => {
  it('so a hanging deployment sinks below a slower one that answers', async () => {
    const r = scriptedRouter({
      'openai/a': [{ answerAfterMs: 100 }, { timeoutAfterMs: 5_000 }],
      'openai/b': { answerAfterMs: 200 },
    });
    expect(await r.answeredBy('pair')).toBe('openai/a'); // unmeasured, first in order
    expect(await r.answeredBy('pair')).toBe('openai/b'); // unmeasured
    const result = await r.route('pair'); // a is faster: tried first, hangs, b answers
    expect(result.ok && result.attempts.map((x) => [x.deployment, x.outcome])).toEqual([
      ['openai/a', 'timeout'],
      ['openai/b', 'ok'],
    ]);
    expect(r.health('openai/a').latency_ms).toBe(Math.round(0.3 * 5_000 + 0.7 * 100));
    r.clock.now += 60_000; // its failure is no longer recent: the average alone keeps it behind b
    expect(await r.answeredBy('pair')).toBe('openai/b');
  });
});

describe('a Retry-After never cools a deployment down for more than 3600 s', () => {
  it.each([
    ['Retry-After: 86400', fail(429, { 'retry-after': '86400' })],
    [
      'a provider that reports 86 400 s uncapped',
      failWith({ kind: 'rate_limited', status: 429, retryAfterMs: 86_400_000 }),
    ],
  ])('%s', async (_name, step) => {
    const r = scriptedRouter({ 'openai/solo': [step] });
    const result = await r.route('solo', 5_000);
    expect(result.ok).toBe(false);
    expect(r.health('openai/solo').cooldown_until).toBe(new Date(T0 + 3_600_000).toISOString());
    expect(!result.ok && result.retryAfterS).toBe(3_600);
  });
});
