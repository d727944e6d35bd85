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

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
}

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
