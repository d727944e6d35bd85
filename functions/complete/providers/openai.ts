// OpenAI Chat Completions over the official `openai` SDK, with the SDK's own retries off.
import OpenAI from 'openai';
import { tokenCount, type FinishReason, type Provider, type ProviderAnswer, type ProviderCall } from './provider.ts';
import { httpFetch } from './http-fetch.ts';
import { fromSdkError } from './sdk-errors.ts';

export function openAiProvider(options: { apiKey: string; baseURL?: string }): Provider {
  const client = new OpenAI({ apiKey: options.apiKey, baseURL: options.baseURL, maxRetries: 0, fetch: httpFetch });
  return {
    async complete(call: ProviderCall): Promise<ProviderAnswer> {
      let completion: OpenAI.ChatCompletion;
      try {
        completion = await client.chat.completions.create(
          {
            model: call.model,
            messages: call.messages,
            ...(call.maxTokens !== undefined && { max_tokens: call.maxTokens }),
            ...(call.temperature !== undefined && { temperature: call.temperature }),
          },
          { signal: call.signal, maxRetries: 0 },
        );
      } catch (err) {
        throw fromSdkError(err, call.signal);
      }
      const choice = completion.choices[0];
      return {
        content: choice?.message?.content ?? '',
        usage: {
          prompt_tokens: tokenCount(completion.usage?.prompt_tokens),
          completion_tokens: tokenCount(completion.usage?.completion_tokens),
        },
        finishReason: finishReason(choice?.finish_reason),
      };
    },
  };
}

function finishReason(reason: string | null | undefined): FinishReason {
  return reason === 'stop' ? 'stop' : reason === 'length' ? 'length' : 'other';
}
