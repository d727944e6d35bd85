// Anthropic Messages over the official `@anthropic-ai/sdk`: system messages joined, same-role turns merged.
import Anthropic from '@anthropic-ai/sdk';
import type { ChatMessage } from '../../common/complete-contract.ts';
import { answerStream } from './answer-stream.ts';
import { answerFailure, type RateLimitResets } from './failure.ts';
import { httpFetch } from './http-fetch.ts';
import {
  tokenCount,
  type FinishReason,
  type Provider,
  type ProviderAnswer,
  type ProviderCall,
  type ProviderDescriptor,
  type StreamPiece,
} from './provider.ts';
import { errorMessageOf, fromSdkError, type SdkErrorReading } from './sdk-errors.ts';

export const ANTHROPIC_DEFAULT_MAX_TOKENS = 1024;

export interface AnthropicRequest {
  system?: string;
  messages: { role: 'user' | 'assistant'; content: string }[];
}

/** All system messages joined as `system`; consecutive turns of one role merged into one. */
export function toAnthropicMessages(messages: readonly ChatMessage[]): AnthropicRequest {
  const system: string[] = [];
  const turns: AnthropicRequest['messages'] = [];
  for (const m of messages) {
    if (m.role === 'system') {
      system.push(m.content);
      continue;
    }
    const last = turns[turns.length - 1];
    if (last && last.role === m.role) last.content += `\n\n${m.content}`;
    else turns.push({ role: m.role, content: m.content });
  }
  return { ...(system.length > 0 && { system: system.join('\n\n') }), messages: turns };
}

/** Anthropic's reset headers are RFC 3339 timestamps, one per limit. */
const RESETS: RateLimitResets = {
  format: 'timestamp',
  limits: ['requests', 'tokens', 'input-tokens', 'output-tokens'].map((limit) => ({
    reset: `anthropic-ratelimit-${limit}-reset`,
    remaining: `anthropic-ratelimit-${limit}-remaining`,
  })),
};

const ERRORS: SdkErrorReading = {
  resets: RESETS,
  classify: (e) => {
    const message = errorMessageOf(e);
    return {
      // `billing_error` (402), and the 400s that say the credit balance or the spend limit ran out.
      quota:
        e.type === 'billing_error' ||
        (e.status === 400 &&
          /credit balance is too low|reached your specified (?:workspace )?API usage limits/i.test(message)),
      contextLength:
        e.status === 400 &&
        e.type === 'invalid_request_error' &&
        /prompt is too long|exceeds? context limit/i.test(message),
    };
  },
};

/**
 * LiteLLM accepts an `api_base` ending in `/v1` or `/v1/messages`; the SDK appends `/v1/messages` to its
 * base URL itself, so it wants what comes before.
 */
export function anthropicBaseUrl(apiBase: string): string {
  return apiBase.replace(/\/+$/, '').replace(/\/v1(?:\/messages)?$/, '');
}

export function anthropicProvider(options: { apiKey: string; baseURL?: string }): Provider {
  const client = new Anthropic({
    apiKey: options.apiKey,
    baseURL: options.baseURL,
    maxRetries: 0,
    fetch: httpFetch,
    // The SDK would log a stream's unreadable event verbatim: provider text.
    logLevel: 'off',
  });
  const request = (call: ProviderCall) => ({
    model: call.model,
    ...toAnthropicMessages(call.messages),
    max_tokens: call.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
    ...(call.temperature !== undefined && { temperature: Math.min(1, call.temperature) }),
  });
  return {
    async complete(call: ProviderCall): Promise<ProviderAnswer> {
      let message: Anthropic.Message;
      try {
        message = await client.messages.create(
          request(call),
          // An explicit timeout also stops the SDK refusing large max_tokens without streaming.
          { signal: call.signal, maxRetries: 0, timeout: 900_000 },
        );
      } catch (err) {
        throw fromSdkError(err, call.signal, ERRORS);
      }
      return toAnswer(message as unknown);
    },
    stream: (call) =>
      answerStream(call, {
        async *pieces(signal) {
          const events = await client.messages.create({ ...request(call), stream: true }, { signal, maxRetries: 0 });
          yield* streamPieces(events as AsyncIterable<unknown>);
        },
        failure: (err, signal) => fromSdkError(err, signal, ERRORS),
      }),
  };
}

/**
 * A streamed message: text deltas as they come, then one end piece once `message_stop` arrived, with the
 * stop reason and output tokens of `message_delta` and the input tokens of `message_start`. A refusal
 * with no text before it gives its explanation as the refusal text, as `complete` does.
 */
async function* streamPieces(events: AsyncIterable<unknown>): AsyncGenerator<StreamPiece> {
  let inputTokens: unknown;
  let outputTokens: unknown;
  let stopReason: unknown;
  let explanation: unknown;
  let said = false;
  let stopped = false;
  for await (const event of events as AsyncIterable<Partial<Anthropic.RawMessageStreamEvent>>) {
    switch (event.type) {
      case 'message_start':
        inputTokens = event.message?.usage?.input_tokens;
        outputTokens = event.message?.usage?.output_tokens;
        break;
      case 'content_block_delta':
        if (event.delta?.type === 'text_delta' && typeof event.delta.text === 'string' && event.delta.text) {
          said = true;
          yield { type: 'content', text: event.delta.text };
        }
        break;
      case 'message_delta':
        stopReason = event.delta?.stop_reason;
        explanation = event.delta?.stop_details?.explanation;
        if (event.usage?.output_tokens !== undefined) outputTokens = event.usage.output_tokens;
        break;
      case 'message_stop':
        stopped = true;
        break;
    }
  }
  if (!stopped) return; // no message_stop: the stream was cut short
  const finishReason = finishReasonOf(stopReason);
  if (finishReason === 'content_filter' && !said && typeof explanation === 'string' && explanation)
    yield { type: 'refusal', text: explanation };
  yield {
    type: 'end',
    finishReason,
    usage: { prompt_tokens: tokenCount(inputTokens), completion_tokens: tokenCount(outputTokens) },
  };
}

/** The answer in a message, or the reason it is none: checked field by field, since a 200 may carry anything. */
function toAnswer(message: unknown): ProviderAnswer {
  if (typeof message !== 'object' || message === null) throw answerFailure('response_not_json');
  const {
    content,
    usage,
    stop_reason,
    stop_details,
    _request_id: requestId,
  } = message as Partial<Anthropic.Message> & {
    _request_id?: string | null;
  };
  if ((message as { type?: unknown }).type === 'error' || 'error' in message)
    throw answerFailure('response_error', requestId);
  const text = Array.isArray(content)
    ? content
        .filter((block): block is Anthropic.TextBlock => block?.type === 'text' && typeof block.text === 'string')
        .map((block) => block.text)
        .join('')
    : '';
  const finishReason = finishReasonOf(stop_reason);
  const answer = (content: string): ProviderAnswer => ({
    content,
    usage: { prompt_tokens: tokenCount(usage?.input_tokens), completion_tokens: tokenCount(usage?.output_tokens) },
    finishReason,
  });
  // A refusal comes first: what the model said before it stopped, else the explanation, is the refusal text.
  if (finishReason === 'content_filter') {
    const explanation = stop_details?.explanation;
    return answer(text || (typeof explanation === 'string' ? explanation : ''));
  }
  if (!text && finishReason !== 'length') throw answerFailure('response_empty', requestId);
  return answer(text);
}

function finishReasonOf(reason: unknown): FinishReason {
  if (reason === 'end_turn' || reason === 'stop_sequence') return 'stop';
  if (reason === 'max_tokens' || reason === 'model_context_window_exceeded') return 'length';
  if (reason === 'refusal') return 'content_filter';
  return 'other';
}

export const anthropic: ProviderDescriptor<'anthropic'> = {
  name: 'anthropic',
  prefixes: ['anthropic/'],
  credential: { secretField: 'anthropic_api_key', variable: 'ANTHROPIC_API_KEY' },
  baseUrlVariable: 'ANTHROPIC_BASE_URL',
  defaultBaseUrl: 'https://api.anthropic.com',
  normaliseBaseUrl: anthropicBaseUrl,
  pricePerMTok: (model) => (model === 'claude-sonnet-4-20250514' ? { input: 3, output: 15 } : undefined),
  create: (deployment, key) => anthropicProvider({ apiKey: key ?? '', baseURL: deployment.apiBase }),
};
