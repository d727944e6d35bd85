// Ollama /api/chat over the official `ollama` SDK: no streaming, `<think>` stripped, one abortable request.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Ollama, type ChatResponse } from 'ollama';
import { answerFailure, httpFailure, transportFailure } from './failure.ts';
import { httpFetch, responseBodyErrorIn } from './http-fetch.ts';
import {
  tokenCount,
  type FinishReason,
  type Provider,
  type ProviderAnswer,
  type ProviderCall,
  type ProviderDescriptor,
} from './provider.ts';

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
        let reply: unknown;
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
          // The SDK parses the answer without catching: a 200 whose body is not JSON ends up here.
          if (err instanceof SyntaxError && !call.signal.aborted) throw answerFailure('response_not_json');
          throw transportFailure(call.signal, responseBodyErrorIn(err)?.code);
        }
        return toAnswer(reply);
      });
    },
  };
}

/** The answer in a reply, or the reason it is none: Ollama may answer 200 with `{"error": …}`. */
function toAnswer(reply: unknown): ProviderAnswer {
  if (typeof reply !== 'object' || reply === null) throw answerFailure('response_not_json');
  const { message, done_reason, prompt_eval_count, eval_count } = reply as Partial<ChatResponse>;
  if ('error' in reply) throw answerFailure('response_error');
  if (typeof message !== 'object' || message === null || typeof message.content !== 'string')
    throw answerFailure('response_empty');
  const finishReason = finishReasonOf(done_reason);
  const content = stripThinking(message.content);
  // Empty after its thinking is removed: an answer only when the model was cut off while thinking.
  if (!content && finishReason !== 'length') throw answerFailure('response_empty');
  return {
    content,
    usage: { prompt_tokens: tokenCount(prompt_eval_count), completion_tokens: tokenCount(eval_count) },
    finishReason,
  };
}

function finishReasonOf(reason: unknown): FinishReason {
  return reason === 'stop' ? 'stop' : reason === 'length' ? 'length' : 'other';
}

export const ollama: ProviderDescriptor<'ollama'> = {
  name: 'ollama',
  prefixes: ['ollama/', 'ollama_chat/'],
  baseUrlVariable: 'OLLAMA_BASE_URL',
  defaultBaseUrl: 'http://localhost:11434',
  // Self-hosted: every model is free of per-token charges.
  pricePerMTok: () => ({ input: 0, output: 0 }),
  create: (deployment, key) => ollamaProvider({ host: deployment.apiBase, apiKey: key ?? undefined }),
};
