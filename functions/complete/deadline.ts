// The one point in time by which a request must be answered, read through a clock that tests can move.

export class Deadline {
  private constructor(
    /** The deadline, in ms since the epoch of `now`. */
    readonly at: number,
    private readonly now: () => number,
  ) {}

  /** The deadline `ms` from now (a negative or NaN budget is already expired). */
  static after(ms: number, now: () => number = Date.now): Deadline {
    return new Deadline(now() + (ms > 0 ? ms : 0), now);
  }

  /** Milliseconds left, never negative. */
  remaining(): number {
    return Math.max(0, this.at - this.now());
  }

  expired(): boolean {
    return this.remaining() === 0;
  }

  /** `ms`, or the time left when that is shorter: a wait or a timeout that never outlives the deadline. */
  clamp(ms: number): number {
    return Math.min(ms, this.remaining());
  }
}
