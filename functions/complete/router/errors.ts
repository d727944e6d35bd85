// Provider failures as values with a kind, so the router decides by class and never by message text.

/**
 * - `retryable`: network error, timeout, 408, 409, 5xx — may be retried, counts toward cooldown.
 * - `rate_limited`: 429 — cools the deployment down at once (for `Retry-After` when longer).
 * - `rejected`: 400/413/422 and other 4xx — not retried on this deployment; others still are.
 * - `not_found`: 404 (model or endpoint not found) — cools the deployment down at once.
 * - `auth`: 401/403 — the key is wrong: a long cooldown, until the key changes.
 * - `quota`: quota or billing exhausted — will not clear by waiting a little: a long cooldown.
 */
export type FailureKind = 'retryable' | 'rate_limited' | 'rejected' | 'not_found' | 'auth' | 'quota';

export interface FailureInfo {
  kind: FailureKind;
  /** HTTP status from the provider, when it answered. */
  status?: number;
  /** The attempt ran out of time (its own timeout or the request's deadline). */
  timeout?: boolean;
  retryAfterMs?: number;
  /** A context-length rejection (request too long for that model): not counted against the deployment. */
  contextLength?: boolean;
  /** The provider said `x-should-retry: false`: no further attempt on this deployment in this request. */
  noRetry?: boolean;
  /** The provider's error type or code (e.g. `overloaded_error`), never its message. */
  code?: string;
  /** The provider's request id, for support tickets. */
  requestId?: string;
}

/** A provider call that failed; its message is built from the kind and status only, never the provider's text. */
export class ProviderError extends Error {
  override name = 'ProviderError';
  constructor(readonly info: FailureInfo) {
    super(
      info.timeout ? 'provider timed out' : info.status ? `provider answered ${info.status}` : 'provider unreachable',
    );
  }
}

export function kindOfStatus(status: number): FailureKind {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 408 || status === 409 || status >= 500) return 'retryable';
  return 'rejected';
}

/** The longest wait a provider's `Retry-After` can impose: past it a cooldown would outlive any use. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

/**
 * Reads `retry-after-ms` or `Retry-After` (seconds or an HTTP date) from response headers, capped at
 * one hour; negative or unreadable values are ignored.
 */
export function retryAfterMs(get: (name: string) => string | null | undefined, now = Date.now()): number | undefined {
  const ms = Number(get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return Math.min(ms, MAX_RETRY_AFTER_MS);
  const value = get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? Math.min(seconds * 1000, MAX_RETRY_AFTER_MS) : undefined;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.min(Math.max(0, date - now), MAX_RETRY_AFTER_MS) : undefined;
}

/** What looks like an error code; anything else (a provider may echo input there) is logged as `unrecognised`. */
const ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

export function loggableCode(code: unknown): string | undefined {
  if (code === undefined || code === null || code === '') return undefined;
  return typeof code === 'string' && ERROR_CODE.test(code) ? code : 'unrecognised';
}

/** A failure from an HTTP response. */
export function httpFailure(
  status: number,
  get: (name: string) => string | null | undefined,
  extra: { code?: unknown; requestId?: string | null } = {},
): ProviderError {
  return new ProviderError({
    kind: kindOfStatus(status),
    status,
    retryAfterMs: retryAfterMs(get),
    code: loggableCode(extra.code),
    // A request id is a header the provider chose: logged only when it looks like an id, like codes.
    requestId: loggableCode(extra.requestId),
  });
}

/**
 * A failure with no usable HTTP answer: the connection failed, the body was cut off or too large
 * (`code` says which), or the attempt's signal fired.
 */
export function transportFailure(signal: AbortSignal, code?: string): ProviderError {
  return new ProviderError({ kind: 'retryable', timeout: signal.aborted || undefined, ...(code && { code }) });
}
