// Which deployment of a group to try next: lowest order tier, recent failures last, then the routing strategy.
import type { RoutingStrategy } from '../config.ts';

const ALPHA = 0.3;
/** A failed attempt keeps its deployment behind the others for this long, unless it succeeds first. */
export const RECENT_FAILURE_MS = 60_000;

/**
 * Which latency average: `call`, the duration of a whole non-streamed call; `first-token`, a streamed
 * call's time to its first piece. Each ranks the requests of its own kind.
 */
export type LatencyKind = 'call' | 'first-token';

/** What the strategies rank by, per deployment, in this instance: latency, recent failures, calls in flight. */
export class DeploymentStats {
  private readonly ewma: Record<LatencyKind, Map<string, number>> = { call: new Map(), 'first-token': new Map() };
  /** The time of each deployment's last attempt, and whether it failed. */
  private readonly last = new Map<string, { at: number; failed: boolean }>();
  private readonly busy = new Map<string, number>();

  constructor(private readonly now: () => number = Date.now) {}

  /**
   * A successful call: its duration joins the `kind` moving average (EWMA, α = 0.3), and any recent
   * failure is cleared. No duration: a success that measures nothing (a stream that ended normally).
   */
  succeeded(id: string, durationMs?: number, kind: LatencyKind = 'call'): void {
    if (durationMs !== undefined) this.average(kind, id, durationMs);
    this.last.set(id, { at: this.now(), failed: false });
  }

  /**
   * A failed attempt that started at `at`. A timed-out one passes its full duration, which joins the
   * average, so a hanging deployment sinks instead of looking fast for never having answered.
   */
  failed(id: string, at: number = this.now(), timedOutAfterMs?: number, kind: LatencyKind = 'call'): void {
    if (timedOutAfterMs !== undefined) this.average(kind, id, timedOutAfterMs);
    // A failure counted late (a rejection, once another deployment answered) never hides a newer success.
    if (at >= (this.last.get(id)?.at ?? -Infinity)) this.last.set(id, { at, failed: true });
  }

  latency(id: string, kind: LatencyKind = 'call'): number | undefined {
    return this.ewma[kind].get(id);
  }

  /** Its most recent attempt failed less than 60 s ago. */
  failedRecently(id: string): boolean {
    const last = this.last.get(id);
    return last !== undefined && last.failed && this.now() - last.at < RECENT_FAILURE_MS;
  }

  callStarted(id: string): void {
    this.busy.set(id, (this.busy.get(id) ?? 0) + 1);
  }

  callEnded(id: string): void {
    const n = (this.busy.get(id) ?? 1) - 1;
    if (n > 0) this.busy.set(id, n);
    else this.busy.delete(id);
  }

  inFlight(id: string): number {
    return this.busy.get(id) ?? 0;
  }

  private average(kind: LatencyKind, id: string, ms: number): void {
    const previous = this.ewma[kind].get(id);
    this.ewma[kind].set(id, previous === undefined ? ms : ALPHA * ms + (1 - ALPHA) * previous);
  }
}

/** The parts of a deployment selection reads; `order` defaults to 1. */
export interface Candidate {
  id: string;
  order?: number;
  weight?: number;
  price?: { input: number; output: number };
}

/**
 * Picks from `candidates` (in configuration order): only the lowest `order` tier; within it, those whose
 * last attempt failed recently come after all others; then the strategy. Every strategy but
 * simple-shuffle is deterministic given the same state, ties going to configuration order. Latency is
 * read from the `latencyKind` average: time to first token for a streamed request.
 */
export function selectDeployment<T extends Candidate>(
  candidates: readonly T[],
  strategy: RoutingStrategy,
  stats: DeploymentStats,
  random: () => number = Math.random,
  latencyKind: LatencyKind = 'call',
): T | undefined {
  if (candidates.length <= 1) return candidates[0];
  const tier = Math.min(...candidates.map((c) => c.order ?? 1));
  const inTier = candidates.filter((c) => (c.order ?? 1) === tier);
  const fresh = inTier.filter((c) => !stats.failedRecently(c.id));
  const pool = fresh.length > 0 ? fresh : inTier;
  switch (strategy) {
    case 'simple-shuffle':
      return shuffle(pool, random);
    case 'least-busy':
      return lowest(pool, (c) => stats.inFlight(c.id));
    case 'cost-based-routing':
      return lowest(pool, (c) => (c.price ? c.price.input + c.price.output : Infinity));
    case 'latency-based-routing':
      // Never measured first: the only way to learn a deployment's latency is to call it.
      return (
        pool.find((c) => stats.latency(c.id, latencyKind) === undefined) ??
        lowest(pool, (c) => stats.latency(c.id, latencyKind)!)
      );
  }
}

/** The first candidate with the lowest score (an unknown price scores Infinity and still comes last). */
function lowest<T>(pool: readonly T[], score: (c: T) => number): T {
  let best: T = pool[0]!;
  let bestScore = score(best);
  for (const c of pool.slice(1)) {
    const s = score(c);
    if (s < bestScore) [best, bestScore] = [c, s];
  }
  return best;
}

/** At random in proportion to `weight`; uniformly when no candidate has a share. */
function shuffle<T extends Candidate>(pool: readonly T[], random: () => number): T {
  const total = pool.reduce((sum, c) => sum + (c.weight ?? 0), 0);
  if (!(total > 0)) return pool[Math.min(pool.length - 1, Math.floor(random() * pool.length))]!;
  let point = random() * total;
  for (const c of pool) {
    point -= c.weight ?? 0;
    if (point < 0) return c;
  }
  // Rounding can leave `point` at 0 past the end: the last candidate with a share takes it.
  return pool.findLast((c) => (c.weight ?? 0) > 0)!;
}
