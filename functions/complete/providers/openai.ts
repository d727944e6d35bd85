// OpenAI Chat Completions over the official `openai` SDK (also any OpenAI-compatible server), with the SDK's own retries off;
// the request and the reading of its answer and errors are shared with Azure OpenAI (azure.ts).
import OpenAI from 'openai';
import { answerStream } from './answer-stream.ts';
import { BuiltRequests } from './built-requests.ts';
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

/** `max_completion_tokens` is the API's current name (its reasoning models refuse `max_tokens`); compatible servers know `max_tokens`. */
export type MaxTokensParameter = 'max_completion_tokens' | 'max_tokens';

/** OpenAI's reset headers are durations (`1s`, `6m0s`, `20ms`). */
const OPENAI_RESETS: RateLimitResets = {
  format: 'duration',
  limits: [
    { reset: 'x-ratelimit-reset-requests', remaining: 'x-ratelimit-remaining-requests' },
    { reset: 'x-ratelimit-reset-tokens', remaining: 'x-ratelimit-remaining-tokens' },
  ],
};

/** How OpenAI's error bodies and headers are read (Azure OpenAI sends the same ones). */
const OPENAI_ERRORS: SdkErrorReading = {
  resets: OPENAI_RESETS,
  classify: (e) => ({
    quota: e.code === 'insufficient_quota' || e.type === 'insufficient_quota',
    // Compatible servers (vLLM and others) say it in the message only.
    contextLength: e.code === 'context_length_exceeded' || /maximum context length/i.test(errorMessageOf(e)),
  }),
};

type BuildRequest = OpenAI['buildRequest'];

/** The official client, reusing the URL and headers it builds alike for every call (built-requests.ts). */
class OpenAIClient extends OpenAI {
  readonly #built = new BuiltRequests();
  override buildRequest(...[options, extra]: Parameters<BuildRequest>): ReturnType<BuildRequest> {
    return this.#built.build(options, extra?.retryCount ?? 0, this.timeout, () => super.buildRequest(options, extra));
  }
}

export function openAiProvider(options: {
  apiKey: string;
  baseURL?: string;
  maxTokensParameter?: MaxTokensParameter;
}): Provider {
  const client = new OpenAIClient({
    apiKey: options.apiKey,
    baseURL: options.baseURL,
    maxRetries: 0,
    fetch: httpFetch,
    // The SDK would log a stream's unreadable event verbatim: provider text.
    logLevel: 'off',
  });
  return chatCompletionsProvider(client, { maxTokensParameter: options.maxTokensParameter ?? 'max_completion_tokens' });
}

/**
 * Chat Completions over a client of the `openai` SDK (OpenAI's own or its Azure client): one request
 * without SDK retries, errors read as OpenAI writes them, the answer read by `toAnswer`.
 */
export function chatCompletionsProvider(
  client: OpenAI,
  options: {
    maxTokensParameter: MaxTokensParameter;
    /** An error response that is an answer all the same (Azure's content-filter 400), else undefined. */
    answerInError?: (err: unknown) => ProviderAnswer | undefined;
  },
): Provider {
  const maxTokens = options.maxTokensParameter;
  return {
    async complete(call: ProviderCall): Promise<ProviderAnswer> {
      let completion: OpenAI.ChatCompletion;
      try {
        completion = await client.chat.completions.create(
          {
            model: call.model,
            messages: call.messages,
            ...(call.maxTokens !== undefined && { [maxTokens]: call.maxTokens }),
            ...(call.temperature !== undefined && { temperature: call.temperature }),
          },
          { signal: call.signal, maxRetries: 0 },
        );
      } catch (err) {
        const answer = options.answerInError?.(err);
        if (answer) return answer;
        throw fromSdkError(err, call.signal, OPENAI_ERRORS);
      }
      return toAnswer(completion as unknown);
    },
    stream: (call) => streamChatCompletion(client, maxTokens, call, options.answerInError),
  };
}

/**
 * A streamed Chat Completion: content and refusal deltas as they come, then one end piece from the chunk
 * with `finish_reason` and the usage chunk after it (`choices` empty) that `include_usage` asks for. An
 * error response that is an answer all the same (`answerInError`, as for `complete`) is streamed as that
 * answer: its refusal text, if any, then its end piece.
 */
export function streamChatCompletion(
  client: OpenAI,
  maxTokens: MaxTokensParameter,
  call: ProviderCall,
  answerInError?: (err: unknown) => ProviderAnswer | undefined,
): AsyncIterable<StreamPiece> {
  return answerStream(call, {
    async *pieces(signal) {
      let chunks: AsyncIterable<Partial<OpenAI.ChatCompletionChunk>>;
      try {
        chunks = await client.chat.completions.create(
          {
            model: call.model,
            messages: call.messages,
            ...(call.maxTokens !== undefined && { [maxTokens]: call.maxTokens }),
            ...(call.temperature !== undefined && { temperature: call.temperature }),
            stream: true,
            stream_options: { include_usage: true },
          },
          { signal, maxRetries: 0 },
        );
      } catch (err) {
        const answer = answerInError?.(err);
        if (!answer) throw err;
        if (answer.content)
          yield { type: answer.finishReason === 'content_filter' ? 'refusal' : 'content', text: answer.content };
        yield { type: 'end', finishReason: answer.finishReason, usage: answer.usage };
        return;
      }
      let finish: unknown;
      let refused = false;
      let usage: Partial<OpenAI.CompletionUsage> | null | undefined;
      for await (const chunk of chunks) {
        if (chunk.usage) usage = chunk.usage;
        const choice = Array.isArray(chunk.choices) ? chunk.choices[0] : undefined;
        if (!choice) continue;
        const { content, refusal } = choice.delta ?? {};
        if (typeof content === 'string' && content) yield { type: 'content', text: content };
        if (typeof refusal === 'string' && refusal) {
          refused = true;
          yield { type: 'refusal', text: refusal };
        }
        if (choice.finish_reason) finish = choice.finish_reason;
      }
      if (finish === undefined) return; // no finish_reason: the stream was cut short
      yield {
        type: 'end',
        finishReason: refused ? 'content_filter' : finishReasonOf(finish),
        usage: {
          prompt_tokens: tokenCount(usage?.prompt_tokens),
          completion_tokens: tokenCount(usage?.completion_tokens),
        },
      };
    },
    failure: (err, signal) => fromSdkError(err, signal, OPENAI_ERRORS),
  });
}

/** The answer in a completion, or the reason it is none: checked field by field, since a 200 may carry anything. */
function toAnswer(completion: unknown): ProviderAnswer {
  if (typeof completion !== 'object' || completion === null) throw answerFailure('response_not_json');
  const {
    choices,
    usage,
    error,
    _request_id: requestId,
  } = completion as Partial<OpenAI.ChatCompletion> & {
    error?: unknown;
    _request_id?: string | null;
  };
  const choice = Array.isArray(choices) ? (choices[0] as Partial<OpenAI.ChatCompletion.Choice> | undefined) : undefined;
  const message = choice?.message;
  if (!choice || typeof message !== 'object' || message === null)
    throw answerFailure(error !== undefined ? 'response_error' : 'response_empty', requestId);
  const answer = (content: string, finishReason: FinishReason): ProviderAnswer => ({
    content,
    usage: { prompt_tokens: tokenCount(usage?.prompt_tokens), completion_tokens: tokenCount(usage?.completion_tokens) },
    finishReason,
  });
  // A refusal comes first: its empty `content` is the refusal, not a failure.
  if (typeof message.refusal === 'string' && message.refusal) return answer(message.refusal, 'content_filter');
  const content = typeof message.content === 'string' ? message.content : '';
  const finishReason = finishReasonOf(choice.finish_reason);
  if (!content && finishReason !== 'content_filter' && finishReason !== 'length')
    throw answerFailure('response_empty', requestId);
  return answer(content, finishReason);
}

function finishReasonOf(reason: unknown): FinishReason {
  if (reason === 'stop') return 'stop';
  if (reason === 'length') return 'length';
  if (reason === 'content_filter') return 'content_filter';
  return 'other';
}

export const openai: ProviderDescriptor<'openai'> = {
  name: 'openai',
  prefixes: ['openai/'],
  credential: { secretField: 'openai_api_key', variable: 'OPENAI_API_KEY' },
  baseUrlVariable: 'OPENAI_BASE_URL',
  defaultBaseUrl: 'https://api.openai.com/v1',
  pricePerMTok: (model) => (model === 'gpt-4o' ? { input: 2.5, output: 10 } : undefined),
  create: (deployment, key) =>
    openAiProvider({
      apiKey: key ?? '',
      baseURL: deployment.apiBase,
      // Only a server named by the configuration file is an OpenAI-compatible one; OPENAI_BASE_URL is OpenAI's proxy.
      maxTokensParameter: deployment.apiBaseFromFile ? 'max_tokens' : 'max_completion_tokens',
    }),
};
