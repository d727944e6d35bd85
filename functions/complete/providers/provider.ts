// The one small contract every provider adapter implements, so the router never learns provider details.
import type { ChatMessage } from '../request.ts';

export interface ProviderCall {
  /** The provider's model name (no `anthropic/` prefix). */
  model: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  /** Fires when the attempt's time is up; the adapter must abort its HTTP request. */
  signal: AbortSignal;
}

/** Token counts as the provider reported them; `null` when it reported none or an implausible one. */
export interface Usage {
  prompt_tokens: number | null;
  completion_tokens: number | null;
}

/**
 * A provider's token count when it is a non-negative integer below 2^31, else `null` (unknown):
 * a count that would overflow a database integer or poison a cost sum is no count at all.
 */
export function tokenCount(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < 2 ** 31 ? value : null;
}

/** The most content a streamed answer may carry before the stream is abandoned (as for MAX_RESPONSE_BYTES). */
export const MAX_STREAM_CONTENT_BYTES = 8 * 1024 * 1024;

export type FinishReason = 'stop' | 'length' | 'other';

export interface ProviderAnswer {
  content: string;
  usage: Usage;
  finishReason: FinishReason;
}

/** Throws `ProviderError` (router/errors.ts) on failure, never the SDK's own error. */
export interface Provider {
  complete(call: ProviderCall): Promise<ProviderAnswer>;
}
