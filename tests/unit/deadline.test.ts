// The request's deadline as a value read through an injected clock.
import { describe, expect, it } from 'vitest';
import { Deadline } from '../../functions/complete/deadline.ts';

describe('deadline', () => {
  it('counts down by its clock, never below 0, and expires at its time', () => {
    const clock = { now: 1_000 };
    const deadline = Deadline.after(500, () => clock.now);
    expect(deadline.at).toBe(1_500);
    expect(deadline.remaining()).toBe(500);
    expect(deadline.expired()).toBe(false);
    clock.now = 1_499;
    expect(deadline.remaining()).toBe(1);
    expect(deadline.expired()).toBe(false);
    clock.now = 1_500;
    expect(deadline.expired()).toBe(true);
    clock.now = 9_000;
    expect(deadline.remaining()).toBe(0);
  });

  it('clamps a wait or a timeout to the time left', () => {
    const clock = { now: 0 };
    const deadline = Deadline.after(1_000, () => clock.now);
    expect(deadline.clamp(300)).toBe(300);
    expect(deadline.clamp(60_000)).toBe(1_000);
    clock.now = 2_000;
    expect(deadline.clamp(300)).toBe(0);
  });

  it('is already expired for a budget of zero or less (a Lambda with under 1 s left)', () => {
    for (const ms of [0, -700, Number.NaN]) expect(Deadline.after(ms, () => 5).expired()).toBe(true);
  });
});
