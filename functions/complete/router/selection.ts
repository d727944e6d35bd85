// Which deployment of a group to try next: latency-based (unmeasured first, then lowest EWMA) or random.
import type { RoutingStrategy } from '../config.ts';

const ALPHA = 0.3;

/** Moving average (EWMA, α = 0.3) of each deployment's successful call durations. */
export class LatencyTracker {
  private readonly ewma = new Map<string, number>();

  record(id: string, ms: number): void {
    const previous = this.ewma.get(id);
    this.ewma.set(id, previous === undefined ? ms : ALPHA * ms + (1 - ALPHA) * previous);
  }

  get(id: string): number | undefined {
    return this.ewma.get(id);
  }
}

/**
 * Picks from `candidates` (in configuration order). Latency-based: the first never measured,
 * else the lowest average, ties to configuration order — deterministic given the same state.
 */
export function selectDeployment<T extends { id: string }>(
  candidates: readonly T[],
  strategy: RoutingStrategy,
  latency: LatencyTracker,
  random: () => number = Math.random,
): T | undefined {
  if (candidates.length <= 1) return candidates[0];
  if (strategy === 'simple-shuffle') return candidates[Math.floor(random() * candidates.length)];
  let best: T | undefined;
  let bestMs = Infinity;
  for (const candidate of candidates) {
    const ms = latency.get(candidate.id);
    if (ms === undefined) return candidate;
    if (ms < bestMs) {
      best = candidate;
      bestMs = ms;
    }
  }
  return best;
}
