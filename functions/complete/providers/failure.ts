// Provider failures as values with a kind, so the router decides by class and never by the provider's text.

/**
 * - `retryable`: network error, timeout, 408, 409, 5xx, 529, or a 200 that is no answer (an error body,
 *   not JSON, no content) — may be retried, counts toward cooldown.
 * - `rate_limited`: 429 — cools the deployment down at once (for `Retry-After` when longer).
 * - `rejected`: 400/413/422 and other 4xx — not retried on this deployment; others still are.
 * - `not_found`: 404 (model or endpoint not found) — cools the deployment down at once.
 * - `auth`: 401/403 — the key is wrong: a long cooldown, until the key changes.
 * - `quota`: quota or billing errors that waiting will not clear (OpenAI `insufficient_quota`,
 *   Anthropic billing errors) — a long cooldown.
 */
export type FailureKind = 'retryable' | 'rate_limited' | 'rejected' | 'not_found' | 'auth' | 'quota';

export interface FailureInfo {
  kind: FailureKind;
  /** HTTP status from the provider, when it answered with an error status. */
  status?: number;
  /** The attempt ran out of time (its own timeout or the request's deadline). */
  timeout?: boolean;
  /** How long the provider asked to wait, already capped at MAX_RETRY_AFTER_MS. */
  retryAfterMs?: number;
  /** A context-length rejection (request too long for that model): not counted against the deployment. */
  contextLength?: boolean;
  /** The provider said `x-should-retry: false`: no further attempt on this deployment in this request. */
  noRetry?: boolean;
  /** The provider's error type or code (e.g. `overloaded_error`) or ours (e.g. `response_not_json`), never its message. */
  code?: string;
  /** The provider's request id, for support tickets. */
  requestId?: string;
}

/** A provider call that failed; its message is built from the kind, status and code only, never the provider's text. */
export class ProviderError extends Error {
  override name = 'ProviderError';
  constructor(readonly info: FailureInfo) {
    super(
      info.timeout
        ? 'provider timed out'
        : info.status
          ? `provider answered ${info.status}`
          : info.code
            ? `provider failed (${info.code})`
            : 'provider unreachable',
    );
  }
}

export function kindOfStatus(status: number): FailureKind {
  if (status === 429) return 'rate_limited';
  if (status === 401 || status === 403) return 'auth';
  if (status === 404) return 'not_found';
  if (status === 408 || status === 409 || status >= 500) return 'retryable';
  return 'rejected';
}

/** The longest wait a provider's `Retry-After` can impose: past it a cooldown would outlive any use. */
export const MAX_RETRY_AFTER_MS = 3_600_000;

export type HeaderLookup = (name: string) => string | null | undefined;

/**
 * How a provider announces when its rate limits reset, for a 429 without `Retry-After`: one header per
 * limit (requests, tokens…), each a duration (`6m0s`, `20ms`) or an RFC 3339 timestamp, with the header
 * that counts what is left of that limit, so the limit that ran out is the one waited for.
 */
export interface RateLimitResets {
  format: 'duration' | 'timestamp';
  limits: readonly { reset: string; remaining: string }[];
}

const DECIMAL = /^\d+(?:\.\d+)?$/;
/** IMF-fixdate and the two obsolete HTTP date forms all start with a day name; `Date.parse` reads them. */
const HTTP_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,? /;
const RFC_3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const DURATION_PART = /(\d+(?:\.\d+)?)(ms|us|µs|ns|h|m|s)/y;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 1e-3, µs: 1e-3, ns: 1e-6 };

/** A Go-style duration (`1s`, `6m0s`, `1h2m3.5s`, `20ms`) in ms, or undefined when it is not one. */
export function durationMs(text: string): number | undefined {
  if (!text) return undefined;
  let total = 0;
  DURATION_PART.lastIndex = 0;
  while (DURATION_PART.lastIndex < text.length) {
    const part = DURATION_PART.exec(text); // sticky: each part starts where the last ended
    if (!part) return undefined;
    total += Number(part[1]) * UNIT_MS[part[2]!]!;
  }
  return total;
}

/** Milliseconds from `now` until `date`, when `date` parses under `pattern` and is not in the past. */
function untilMs(date: string, pattern: RegExp, now: number): number | undefined {
  if (!pattern.test(date)) return undefined;
  const at = Date.parse(date);
  return Number.isFinite(at) && at >= now ? at - now : undefined;
}

function resetMs(get: HeaderLookup, resets: RateLimitResets, now: number): number | undefined {
  const known: { ms: number; exhausted: boolean }[] = [];
  for (const { reset, remaining } of resets.limits) {
    const value = get(reset)?.trim();
    if (!value) continue;
    const ms = resets.format === 'duration' ? durationMs(value) : untilMs(value, RFC_3339, now);
    if (ms !== undefined) known.push({ ms, exhausted: get(remaining)?.trim() === '0' });
  }
  // The limits that ran out are the ones to wait for; when none says so, waiting for all is safe.
  const relevant = known.some((k) => k.exhausted) ? known.filter((k) => k.exhausted) : known;
  return relevant.length ? Math.max(...relevant.map((k) => k.ms)) : undefined;
}

/**
 * How long the provider asked to wait: `retry-after-ms`, else `retry-after` (seconds or an HTTP date),
 * else the rate-limit reset headers when given; negative or unreadable values are ignored; capped at
 * one hour.
 */
export function retryAfterMs(get: HeaderLookup, now = Date.now(), resets?: RateLimitResets): number | undefined {
  const ms = get('retry-after-ms')?.trim();
  const after = get('retry-after')?.trim();
  const wait =
    (ms && DECIMAL.test(ms) ? Number(ms) : undefined) ??
    (after && DECIMAL.test(after) ? Number(after) * 1000 : undefined) ??
    (after ? untilMs(after, HTTP_DATE, now) : undefined) ??
    (resets ? resetMs(get, resets, now) : undefined);
  return wait === undefined || !Number.isFinite(wait) ? undefined : Math.min(wait, MAX_RETRY_AFTER_MS);
}

/** What looks like an error code; anything else (a provider may echo input there) is logged as `unrecognised`. */
const ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

export function loggableCode(code: unknown): string | undefined {
  if (code === undefined || code === null || code === '') return undefined;
  return typeof code === 'string' && ERROR_CODE.test(code) ? code : 'unrecognised';
}

/** What an adapter read from the provider's error body (its text stays in the adapter) and headers it knows. */
export interface ErrorDetail {
  code?: unknown;
  requestId?: string | null;
  /** A quota or billing error that waiting will not clear. */
  quota?: boolean;
  /** The request was too long for the model. */
  contextLength?: boolean;
  /** The provider's rate-limit reset headers, read for a 429 without `Retry-After`. */
  resets?: RateLimitResets;
}

/** A failure from an HTTP error response. */
export function httpFailure(
  status: number,
  get: HeaderLookup,
  detail: ErrorDetail = {},
  now = Date.now(),
): ProviderError {
  let kind: FailureKind = detail.quota ? 'quota' : kindOfStatus(status);
  const shouldRetry = get('x-should-retry')?.trim().toLowerCase();
  // The provider knows better than the status whether this will pass on another try; rate limits,
  // keys and quotas keep their own (longer) treatment.
  if (shouldRetry === 'true' && (kind === 'rejected' || kind === 'not_found')) kind = 'retryable';
  const retryAfter = retryAfterMs(get, now, status === 429 ? detail.resets : undefined);
  return new ProviderError({
    kind,
    status,
    ...(retryAfter !== undefined && { retryAfterMs: retryAfter }),
    ...(kind === 'rejected' && (detail.contextLength || status === 413) && { contextLength: true }),
    ...(shouldRetry === 'false' && { noRetry: true }),
    ...optional('code', loggableCode(detail.code)),
    // A request id is a header the provider chose: logged only when it looks like an id, like codes.
    ...optional('requestId', loggableCode(detail.requestId)),
  });
}

/**
 * An error event inside a stream the provider had answered 200 (Anthropic's `overloaded_error`, OpenAI's
 * `{"error": …}` chunk): classified as the HTTP status its type stands for (`standsFor`), retryable when
 * the type is unknown; the failure carries the type as its code, not a status nobody sent.
 */
export function streamEventFailure(standsFor: number | undefined, detail: ErrorDetail = {}): ProviderError {
  const kind: FailureKind = detail.quota ? 'quota' : standsFor === undefined ? 'retryable' : kindOfStatus(standsFor);
  return new ProviderError({
    kind,
    ...(kind === 'rejected' && (detail.contextLength || standsFor === 413) && { contextLength: true }),
    ...optional('code', loggableCode(detail.code)),
    ...optional('requestId', loggableCode(detail.requestId)),
  });
}

function optional<K extends string>(key: K, value: string | undefined): { [P in K]?: string } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: string };
}

/**
 * A failure with no usable HTTP answer: the connection failed, the body was cut off or too large
 * (`code` says which), or the attempt's signal fired.
 */
export function transportFailure(signal: AbortSignal, code?: string): ProviderError {
  return new ProviderError({ kind: 'retryable', timeout: signal.aborted || undefined, ...(code && { code }) });
}

/** Why an HTTP 200 was no answer. */
export type AnswerProblem = 'response_not_json' | 'response_error' | 'response_empty';

/** A 200 that is no answer (an error body, not JSON, no content): retryable, never an empty answer. */
export function answerFailure(problem: AnswerProblem, requestId?: string | null): ProviderError {
  return new ProviderError({ kind: 'retryable', code: problem, ...optional('requestId', loggableCode(requestId)) });
}
