// Anthropic Messages over the official `@anthropic-ai/sdk`: system messages joined, same-role turns merged.
import Anthropic from '@anthropic-ai/sdk';
import type { ChatMessage } from '../request.ts';
import { tokenCount, type FinishReason, type Provider, type ProviderAnswer, type ProviderCall } from './provider.ts';
import { httpFetch } from './http-fetch.ts';
import { fromSdkError } from './sdk-errors.ts';

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

export function anthropicProvider(options: { apiKey: string; baseURL?: string }): Provider {
  const client = new Anthropic({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0, fetch: httpFetch });
  return {
    async complete(call: ProviderCall): Promise<ProviderAnswer> {
      let message: Anthropic.Message;
      try {
        message = await client.messages.create(
          {
            model: call.model,
            ...toAnthropicMessages(call.messages),
            max_tokens: call.maxTokens ?? ANTHROPIC_DEFAULT_MAX_TOKENS,
            ...(call.temperature !== undefined && { temperature: Math.min(1, call.temperature) }),
          },
          // An explicit timeout also stops the SDK refusing large max_tokens without streaming.
          { signal: call.signal, maxRetries: 0, timeout: 900_000 },
        );
      } catch (err) {
        throw fromSdkError(err, call.signal);
      }
      return {
        content: message.content
          .filter((block): block is Anthropic.TextBlock => block.type === 'text')
          .map((block) => block.text)
          .join(''),
        usage: {
          prompt_tokens: tokenCount(message.usage?.input_tokens),
          completion_tokens: tokenCount(message.usage?.output_tokens),
        },
        finishReason: finishReason(message.stop_reason),
      };
    },
  };
}

function finishReason(reason: string | null): FinishReason {
  if (reason === 'end_turn' || reason === 'stop_sequence') return 'stop';
  if (reason === 'max_tokens' || reason === 'model_context_window_exceeded') return 'length';
  return 'other';
}
