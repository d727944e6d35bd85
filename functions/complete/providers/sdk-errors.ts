// Maps an error of a Stainless-built SDK (openai, @anthropic-ai/sdk) to a ProviderError without its message.
import { httpFailure, transportFailure, type ProviderError } from '../router/errors.ts';
import { responseBodyErrorIn } from './http-fetch.ts';

interface StainlessApiError {
  status?: number;
  headers?: Headers;
  requestID?: string | null;
  code?: unknown;
  type?: unknown;
  error?: { type?: unknown; error?: { type?: unknown } };
}

export function fromSdkError(err: unknown, signal: AbortSignal): ProviderError {
  const e = (err ?? {}) as StainlessApiError;
  if (typeof e.status !== 'number') return transportFailure(signal, responseBodyErrorIn(err)?.code);
  const headers = e.headers;
  return httpFailure(e.status, (name) => headers?.get(name), {
    code: e.code ?? e.error?.error?.type ?? e.type ?? undefined,
    requestId: e.requestID ?? headers?.get('request-id') ?? headers?.get('x-request-id'),
  });
}
