// Maps an error of a Stainless-built SDK (openai, @anthropic-ai/sdk) to a ProviderError without its message.
import {
  answerFailure,
  httpFailure,
  streamEventFailure,
  transportFailure,
  type ProviderError,
  type RateLimitResets,
} from './failure.ts';
import { responseBodyErrorIn } from './http-fetch.ts';

/** The fields both SDKs' `APIError` carry (`error` is the body, or its inner `error` object for OpenAI). */
export interface StainlessApiError {
  status?: number;
  headers?: Headers;
  requestID?: string | null;
  code?: unknown;
  type?: unknown;
  error?: { type?: unknown; message?: unknown; error?: { type?: unknown; message?: unknown } };
}

/** How one provider reads its own error bodies: the quota and context-length errors it knows, its reset headers. */
export interface SdkErrorReading {
  /** May read the provider's message to decide; nothing it reads is kept. */
  classify?(err: StainlessApiError): { quota?: boolean; contextLength?: boolean };
  resets?: RateLimitResets;
}

export function fromSdkError(err: unknown, signal: AbortSignal, reading: SdkErrorReading = {}): ProviderError {
  // The SDKs parse a JSON answer without catching: a 200 whose body is not JSON ends up here.
  if (err instanceof SyntaxError && !signal.aborted) return answerFailure('response_not_json');
  const e = (err ?? {}) as StainlessApiError;
  const headers = e.headers;
  const detail = () => ({
    ...reading.classify?.(e),
    code: e.code ?? e.error?.error?.type ?? e.type ?? undefined,
    requestId: e.requestID ?? headers?.get('request-id') ?? headers?.get('x-request-id'),
    resets: reading.resets,
  });
  if (typeof e.status === 'number') return httpFailure(e.status, (name) => headers?.get(name), detail());
  // No status but an error body: an error event inside a stream.
  if (typeof e.error === 'object' && e.error !== null && !signal.aborted) {
    const { code } = detail();
    return streamEventFailure(typeof code === 'string' ? STATUS_OF_ERROR_TYPE.get(code) : undefined, detail());
  }
  return transportFailure(signal, responseBodyErrorIn(err)?.code);
}

/** The HTTP status each provider documents for its error types, for errors that arrive inside a stream. */
const STATUS_OF_ERROR_TYPE = new Map<string, number>(
  Object.entries({
    invalid_request_error: 400,
    authentication_error: 401,
    billing_error: 402,
    permission_error: 403,
    not_found_error: 404,
    request_too_large: 413,
    rate_limit_error: 429,
    rate_limit_exceeded: 429,
    insufficient_quota: 429,
    api_error: 500,
    server_error: 500,
    timeout_error: 504,
    overloaded_error: 529,
  }),
);

/** The provider's error message, for classifying only: never logged, never kept. */
export function errorMessageOf(e: StainlessApiError): string {
  const message = e.error?.error?.message ?? e.error?.message;
  return typeof message === 'string' ? message : '';
}
