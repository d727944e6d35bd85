// Delay before retrying the same deployment: exponential backoff with full jitter.

const BASE_MS = 100;
const CAP_MS = 2_000;

/** `retry` is 1 for the first retry of a deployment; the delay is uniform in [0, min(cap, base·2^(retry−1))). */
export function backoffMs(retry: number, random: () => number = Math.random): number {
  return random() * Math.min(CAP_MS, BASE_MS * 2 ** Math.max(0, retry - 1));
}
