// Which deployments every request skips for now: too many recent failures, a 429 or 404, a rejected key or an empty quota.
import { MAX_RETRY_AFTER_MS } from '../providers/failure.ts';

const FAILURE_WINDOW_MS = 60_000;
/** No cooldown is longer than the longest `Retry-After` a provider can impose (one hour). */
export const MAX_COOLDOWN_MS = MAX_RETRY_AFTER_MS;
/** How long a 401/403 (unless its key changes first) or an exhausted quota keeps a deployment out. */
export const LONG_COOLDOWN_MS = 10 * 60_000;

export class CooldownTracker {
  private readonly failures = new Map<string, number[]>();
  private readonly until = new Map<string, number>();

  constructor(
    private readonly allowedFails: number,
    private readonly cooldownMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts a retryable failure; more than `allowedFails` within 60 s cools the deployment down. */
  recordFailure(id: string): void {
    const now = this.now();
    const recent = (this.failures.get(id) ?? []).filter((t) => now - t < FAILURE_WINDOW_MS);
    recent.push(now);
    this.failures.set(id, recent);
    if (recent.length > this.allowedFails) this.coolDown(id, this.cooldownMs);
  }

  /** A 429: cooldown for `cooldown_time`, or for the provider's `Retry-After` when that is longer. */
  recordRateLimit(id: string, retryAfterMs: number | undefined): void {
    this.coolDown(id, Math.max(this.cooldownMs, retryAfterMs ?? 0));
  }

  /** A 404: the model or endpoint is not there, so retrying it before `cooldown_time` only costs a call. */
  recordNotFound(id: string): void {
    this.coolDown(id, this.cooldownMs);
  }

  /** A 401/403 or an exhausted quota: failures that waiting a little will not clear. */
  recordLastingFailure(id: string): void {
    this.coolDown(id, LONG_COOLDOWN_MS);
  }

  coolDown(id: string, ms: number): void {
    if (!(ms > 0)) return; // also NaN
    const end = this.now() + Math.min(ms, MAX_COOLDOWN_MS);
    if (end > (this.until.get(id) ?? 0)) this.until.set(id, end);
    this.failures.delete(id);
  }

  /** The end of the deployment's cooldown, or undefined when it is available. */
  cooldownUntil(id: string): number | undefined {
    const end = this.until.get(id);
    if (end === undefined) return undefined;
    if (end > this.now()) return end;
    this.until.delete(id);
    return undefined;
  }

  clear(id: string): void {
    this.until.delete(id);
    this.failures.delete(id);
  }
}
