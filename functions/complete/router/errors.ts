// Provider failures as values with a kind, so the router decides by class and never by message text.

/**
 * - `retryable`: network error, timeout, 408, 409, 5xx — may be retried, counts toward cooldown.
 * - `rate_limited`: 429 — cools the deployment down at once (for `Retry-After` when longer).
 * - `rejected`: 400/404/413/422 and other 4xx — not retried on this deployment; others still are.
 * - `auth`: 401/403 — the key is wrong: a long cooldown, until the key changes.
 */
export type FailureKind = 'retryable' | 'rate_limited' | 'rejected' | 'auth';

export interface FailureInfo {
  kind: FailureKind;
  /** HTTP status from the provider, when it answered. */
  status?: number;
  /** The attempt ran out of time (its own timeout or the request's deadline). */
  timeout?: boolean;
  retryAfterMs?: number;
  /** The provider's error type or code (e.g. `overloaded_error`), never its message. */
  code?: string;
  /** The provider's request id, for support tickets. */
  requestId?: string;
}

/** A provider call that failed; its message is built from the kind and status only, never the provider's text. */
export class ProviderError extends Error {
  override name = 'ProviderError';
  constructor(readonly info: FailureInfo) {
    super(info.timeout ? 'provider timed out' : info.status ? `provider answered ${info.status}` : 'provider unreachable');
  }
}

export function kindOfStatus(status: number): FailureKind {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 408 || status === 409 || status >= 500) return 'retryable';
  return 'rejected';
}

/** Reads `retry-after-ms` or `Retry-After` (seconds or an HTTP date) from response headers. */
export function retryAfterMs(get: (name: string) => string | null | undefined, now = Date.now()): number | undefined {
  const ms = Number(get('retry-after-ms'));
  if (Number.isFinite(ms) && ms > 0) return ms;
  const value = get('retry-after');
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds >= 0 ? seconds * 1000 : undefined;
  const date = Date.parse(value);
  return Number.isFinite(date) ? Math.max(0, date - now) : undefined;
}

/** A failure from an HTTP response. */
export function httpFailure(
  status: number,
  get: (name: string) => string | null | undefined,
  extra: { code?: string | null; requestId?: string | null } = {},
): ProviderError {
  return new ProviderError({
    kind: kindOfStatus(status),
    status,
    retryAfterMs: retryAfterMs(get),
    code: extra.code ?? undefined,
    requestId: extra.requestId ?? undefined,
  });
}

/** A failure with no HTTP answer: the connection failed, or the attempt's signal fired. */
export function transportFailure(signal: AbortSignal): ProviderError {
  return new ProviderError({ kind: 'retryable', timeout: signal.aborted || undefined });
}
