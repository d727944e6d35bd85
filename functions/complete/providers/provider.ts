// The one small contract every provider adapter implements, so the router never learns provider details,
// and the descriptor each provider module exports so that configuration and credentials never do either.
import type { Deployment } from '../config.ts';
import type { ChatMessage, FinishReason, Usage } from '../../common/complete-contract.ts';

// The answer's parts are the `complete` contract's own: what an adapter returns is what `complete` answers.
export { tokenCount, type FinishReason, type Usage } from '../../common/complete-contract.ts';

export interface ProviderCall {
  /** The provider's model name (no `anthropic/` prefix). */
  model: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  /** Fires when the attempt's time is up; the adapter must abort its HTTP request. */
  signal: AbortSignal;
}

/** The most content a streamed answer may carry before the stream is abandoned (as for MAX_RESPONSE_BYTES). */
export const MAX_STREAM_CONTENT_BYTES = 8 * 1024 * 1024;

export interface ProviderAnswer {
  content: string;
  usage: Usage;
  finishReason: FinishReason;
}

/** One piece of a streamed answer, in the order the provider sent it. */
export type StreamPiece =
  /** Visible content only (never thinking); never empty. */
  | { type: 'content'; text: string }
  /** Refusal text (OpenAI `delta.refusal`); never empty. */
  | { type: 'refusal'; text: string }
  /** Exactly once, last, on success. */
  | { type: 'end'; finishReason: FinishReason; usage: Usage };

/** Throws `ProviderError` (failure.ts) on failure, never the SDK's own error. */
export interface Provider {
  complete(call: ProviderCall): Promise<ProviderAnswer>;
  /**
   * The answer as the provider sends it, through its SDK's streaming API. Iteration throws
   * `ProviderError` (failure.ts), classified exactly as `complete` classifies, for a failure before or
   * during the stream: an HTTP error, an error event inside the stream, a stream that ends without its
   * end event (retryable, code `stream_incomplete`), more than MAX_STREAM_CONTENT_BYTES of content
   * (retryable, `response_too_large`), the call's signal aborting (as `complete` reports an abort/timeout).
   * Breaking out of the loop (`return()`) or aborting the signal closes the provider connection at once.
   */
  stream(call: ProviderCall): AsyncIterable<StreamPiece>;
}

/**
 * Everything the rest of `complete` knows about one provider. Adding a provider is one module that
 * exports one of these, plus one line in registry.ts.
 */
export interface ProviderDescriptor<Name extends string = string> {
  /** The name deployments carry (`Deployment.provider`). */
  readonly name: Name;
  /** The `litellm_params.model` prefixes that select it, e.g. `anthropic/`. */
  readonly prefixes: readonly string[];
  /** Where its key comes from by default: a field of the provider secret in AWS, a variable locally. None: no key. */
  readonly credential?: { readonly secretField: string; readonly variable: string };
  /** The variable that overrides its base URL, as its SDK would read it. None: only `api_base` sets it. */
  readonly baseUrlVariable?: string;
  /** None: the deployment must give `api_base` (its `check` says so at start-up), or its SDK finds the endpoint (Bedrock). */
  readonly defaultBaseUrl?: string;
  /**
   * The base URL its SDK expects, from one written as LiteLLM accepts it (e.g. Anthropic's `…/v1`),
   * applied once at load to `api_base`, the base-URL variable or the default. None: used as written.
   */
  normaliseBaseUrl?(url: string): string;
  /**
   * What this provider needs of a deployment beyond the common schema (e.g. a required `api_version`),
   * checked at load: `field` is the `litellm_params` key, `problem` says what to do. None: nothing more.
   */
  check?(deployment: Deployment): { field: string; problem: string } | undefined;
  /**
   * `litellm_params` keys that must be written as they are, never `os.environ/NAME` (Bedrock's `model`
   * and `aws_region_name`: the stack scopes its grants to them at synth). None: any may be a reference.
   */
  readonly literalParams?: readonly string[];
  /** USD per million tokens (input, output) of a model it serves, when known without configuration. */
  pricePerMTok(model: string): { input: number; output: number } | undefined;
  /** The client for one deployment and its key (`null` when it needs none); created once, then reused. */
  create(deployment: Deployment, key: string | null): Provider;
}
