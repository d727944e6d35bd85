// Selection: order tiers, recent failures last, then latency, weighted shuffle, least-busy or cost.
import { describe, expect, it } from 'vitest';
import { DeploymentStats, selectDeployment, type Candidate } from '../../../functions/complete/router/selection.ts';

const a = { id: 'a' };
const b = { id: 'b' };
const c = { id: 'c' };

/** Stats read through a clock the test sets. */
function statsAt(start = 0) {
  const clock = { now: start };
  return { clock, stats: new DeploymentStats(() => clock.now) };
}

describe('latency-based selection', () => {
  it('prefers never-measured deployments in configuration order', () => {
    const { stats } = statsAt();
    stats.succeeded('a', 10);
    expect(selectDeployment([a, b, c], 'latency-based-routing', stats)).toBe(b);
  });

  it('then the lowest moving average, ties to configuration order', () => {
    const { stats } = statsAt();
    stats.succeeded('a', 50);
    stats.succeeded('b', 20);
    stats.succeeded('c', 20);
    expect(selectDeployment([a, b, c], 'latency-based-routing', stats)).toBe(b);
  });

  it('averages with α = 0.3', () => {
    const { stats } = statsAt();
    stats.succeeded('a', 100);
    stats.succeeded('a', 200);
    expect(stats.latency('a')).toBeCloseTo(130);
  });

  it('averages in the full duration of a timed-out attempt, so a hanging deployment sinks', () => {
    const { stats } = statsAt();
    stats.succeeded('a', 100);
    stats.succeeded('b', 300);
    stats.failed('a', 0, 5_000);
    expect(stats.latency('a')).toBeCloseTo(0.3 * 5_000 + 0.7 * 100);
    stats.failed('b', 0); // an ordinary failure leaves the average alone
    expect(stats.latency('b')).toBe(300);
  });
});

describe('streamed requests rank by their own average, of time to first token', () => {
  it('keeps the first-token average apart from the whole-call one', () => {
    const { clock, stats } = statsAt();
    stats.succeeded('a', 50);
    stats.succeeded('b', 500);
    stats.succeeded('a', 300, 'first-token');
    stats.succeeded('b', 100, 'first-token');
    stats.failed('b', 0, 200, 'first-token'); // a timed-out first piece joins the first-token average only
    expect(stats.latency('b')).toBe(500);
    expect(stats.latency('b', 'first-token')).toBeCloseTo(0.3 * 200 + 0.7 * 100);
    clock.now += 60_000; // b's timeout no longer ranks it last: the averages alone decide
    expect(selectDeployment([a, b], 'latency-based-routing', stats)).toBe(a);
    expect(selectDeployment([a, b], 'latency-based-routing', stats, Math.random, 'first-token')).toBe(b);
  });

  it('prefers deployments never measured to first token, though measured whole', () => {
    const { stats } = statsAt();
    stats.succeeded('a', 10, 'first-token');
    stats.succeeded('b', 10);
    expect(selectDeployment([a, b], 'latency-based-routing', stats, Math.random, 'first-token')).toBe(b);
  });
});

describe('a recent failure ranks last', () => {
  it('puts a deployment whose last attempt failed less than 60 s ago after every other, whatever the strategy', () => {
    const { clock, stats } = statsAt(1_000_000);
    stats.failed('a');
    for (const strategy of ['latency-based-routing', 'least-busy', 'cost-based-routing'] as const)
      expect(selectDeployment([a, b], strategy, stats)).toBe(b);
    expect(selectDeployment([a, b], 'simple-shuffle', stats, () => 0)).toBe(b);
    clock.now += 59_999;
    expect(selectDeployment([a, b], 'latency-based-routing', stats)).toBe(b);
    clock.now += 1;
    expect(selectDeployment([a, b], 'latency-based-routing', stats)).toBe(a);
  });

  it('is cleared by a success', () => {
    const { stats } = statsAt();
    stats.failed('a');
    stats.succeeded('a', 10);
    expect(stats.failedRecently('a')).toBe(false);
    expect(selectDeployment([a, b], 'latency-based-routing', stats)).toBe(b); // b is unmeasured
    stats.succeeded('b', 20);
    expect(selectDeployment([a, b], 'latency-based-routing', stats)).toBe(a);
  });

  it('is not recorded over a newer success (a rejection counted late)', () => {
    const { clock, stats } = statsAt(1_000);
    stats.succeeded('a', 10);
    stats.failed('a', 500);
    expect(stats.failedRecently('a')).toBe(false);
    clock.now = 2_000;
    stats.failed('a', 1_500);
    expect(stats.failedRecently('a')).toBe(true);
  });

  it('still lets the recently failed be picked when nothing else is left', () => {
    const { stats } = statsAt();
    stats.failed('a');
    stats.failed('b');
    stats.succeeded('c', 1);
    stats.failed('c');
    expect(selectDeployment([a, b, c], 'latency-based-routing', stats)).toBe(a);
  });
});

describe('order tiers', () => {
  it('picks only from the lowest order among the candidates (order 1 when unset)', () => {
    const { stats } = statsAt();
    const first = { id: 'first', order: 2 };
    const second = { id: 'second' };
    const third = { id: 'third', order: 3 };
    expect(selectDeployment([first, second, third], 'latency-based-routing', stats)).toBe(second);
    expect(selectDeployment([first, third], 'latency-based-routing', stats)).toBe(first);
  });

  it('keeps a recently failed lower tier ahead of a higher one', () => {
    const { stats } = statsAt();
    stats.failed('low');
    const low = { id: 'low', order: 1 };
    const high = { id: 'high', order: 2 };
    expect(selectDeployment([high, low], 'latency-based-routing', stats)).toBe(low);
  });
});

describe('simple-shuffle', () => {
  it('picks uniformly when no deployment has a weight', () => {
    expect(selectDeployment([a, b, c], 'simple-shuffle', statsAt().stats, () => 0.7)).toBe(c);
    expect(selectDeployment([a, b, c], 'simple-shuffle', statsAt().stats, () => 0.5)).toBe(b);
    expect(selectDeployment([a, b, c], 'simple-shuffle', statsAt().stats, () => 0.2)).toBe(a);
  });

  it('picks in proportion to weight', () => {
    const pool: Candidate[] = [
      { id: 'w1', weight: 1 },
      { id: 'w3', weight: 3 },
      { id: 'w0', weight: 0 },
    ];
    const { stats } = statsAt();
    // A scripted random spread evenly over [0, 1): the picks show the proportions exactly.
    const counts = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const pick = selectDeployment(pool, 'simple-shuffle', stats, () => (i + 0.5) / 400)!;
      counts.set(pick.id, (counts.get(pick.id) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ w1: 100, w3: 300 });
  });

  it('never returns a deployment without a share, even for a scripted random of 1', () => {
    const pool: Candidate[] = [
      { id: 'w1', weight: 1 },
      { id: 'w0', weight: 0 },
    ];
    expect(selectDeployment(pool, 'simple-shuffle', statsAt().stats, () => 1)!.id).toBe('w1');
  });
});

describe('least-busy', () => {
  it('picks the fewest calls in flight, ties to configuration order', () => {
    const { stats } = statsAt();
    stats.callStarted('a');
    stats.callStarted('a');
    stats.callStarted('b');
    expect(selectDeployment([a, b, c], 'least-busy', stats)).toBe(c);
    stats.callStarted('c');
    stats.callStarted('c');
    expect(selectDeployment([a, b, c], 'least-busy', stats)).toBe(b);
    stats.callEnded('a');
    stats.callEnded('a');
    expect(selectDeployment([a, b, c], 'least-busy', stats)).toBe(a);
  });
});

describe('cost-based-routing', () => {
  it('picks the lowest price per token (input + output), unknown prices last', () => {
    const unknown = { id: 'unknown' };
    const dear = { id: 'dear', price: { input: 3e-6, output: 15e-6 } };
    const cheap = { id: 'cheap', price: { input: 10e-6, output: 2e-6 } };
    const { stats } = statsAt();
    expect(selectDeployment([unknown, dear, cheap], 'cost-based-routing', stats)).toBe(cheap);
    expect(selectDeployment([unknown, dear], 'cost-based-routing', stats)).toBe(dear);
    expect(selectDeployment([unknown, { id: 'other' }], 'cost-based-routing', stats)!.id).toBe('unknown');
  });
});
