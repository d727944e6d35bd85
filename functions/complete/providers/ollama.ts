// Ollama /api/chat over the official `ollama` SDK: no streaming, `<think>` stripped, one abortable request.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Ollama } from 'ollama';
import { httpFailure, transportFailure } from '../router/errors.ts';
import { httpFetch, responseBodyErrorIn } from './http-fetch.ts';
import { tokenCount, type FinishReason, type Provider, type ProviderAnswer, type ProviderCall } from './provider.ts';

/** Removes the leading `<think>…</think>` blocks (one cut off by `max_tokens` runs to the end) and trims the rest. */
export function stripThinking(content: string): string {
  return content.replace(/^(?:\s*<think>[\s\S]*?(?:<\/think>|$))+/, '').trim();
}

interface AttemptScope {
  signal: AbortSignal;
  response?: Response;
}

export function ollamaProvider(options: { host: string; apiKey?: string }): Provider {
  // ollama-js 0.6 has one AbortController per client: the attempt's own signal reaches fetch through this scope.
  const scope = new AsyncLocalStorage<AttemptScope>();
  const client = new Ollama({
    host: options.host,
    ...(options.apiKey && { headers: { Authorization: `Bearer ${options.apiKey}` } }),
    fetch: async (input, init) => {
      const attempt = scope.getStore();
      const response = await httpFetch(input, { ...init, signal: attempt?.signal ?? init?.signal ?? null });
      if (attempt) attempt.response = response;
      return response;
    },
  });
  return {
    complete(call: ProviderCall): Promise<ProviderAnswer> {
      const attempt: AttemptScope = { signal: call.signal };
      return scope.run(attempt, async () => {
        let reply;
        try {
          reply = await client.chat({
            model: call.model,
            messages: call.messages,
            stream: false,
            options: {
              ...(call.maxTokens !== undefined && { num_predict: call.maxTokens }),
              ...(call.temperature !== undefined && { temperature: call.temperature }),
            },
          });
        } catch (err) {
          const response = attempt.response;
          if (response && !response.ok) throw httpFailure(response.status, (name) => response.headers.get(name));
          throw transportFailure(call.signal, responseBodyErrorIn(err)?.code);
        }
        return {
          content: stripThinking(reply.message?.content ?? ''),
          usage: {
            prompt_tokens: tokenCount(reply.prompt_eval_count),
            completion_tokens: tokenCount(reply.eval_count),
          },
          finishReason: finishReason(reply.done_reason),
        };
      });
    },
  };
}

function finishReason(reason: string | undefined): FinishReason {
  return reason === 'stop' ? 'stop' : reason === 'length' ? 'length' : 'other';
}
