// Ollama /api/chat over the official `ollama` SDK: `<think>` never returned, each request abortable on its own.
import { AsyncLocalStorage } from 'node:async_hooks';
import { Ollama, type AbortableAsyncIterator, type ChatResponse } from 'ollama';
import { answerStream } from './answer-stream.ts';
import { answerFailure, httpFailure, ProviderError, transportFailure } from './failure.ts';
import { httpFetch, responseBodyErrorIn } from './http-fetch.ts';
import {
  tokenCount,
  type FinishReason,
  type Provider,
  type ProviderAnswer,
  type ProviderCall,
  type ProviderDescriptor,
  type StreamPiece,
} from './provider.ts';

/** Removes the leading `<think>…</think>` blocks (one cut off by `max_tokens` runs to the end) and trims the rest. */
export function stripThinking(content: string): string {
  return content.replace(/^(?:\s*<think>[\s\S]*?(?:<\/think>|$))+/, '').trim();
}

interface AttemptScope {
  signal: AbortSignal;
  response?: Response;
  /** The answer is NDJSON, read line by line. */
  streaming?: boolean;
}

/** The client, able to forget a stream it would otherwise keep listed forever (it lets go only of finished ones). */
class OllamaClient extends Ollama {
  forget(stream: AbortableAsyncIterator<object>): void {
    const at = this.ongoingStreamedRequests.indexOf(stream);
    if (at >= 0) this.ongoingStreamedRequests.splice(at, 1);
  }
}

/** What the SDK throws, as a plain Error, for a stream that ended without its `done` line. */
const NOT_DONE = 'Did not receive done or success response in stream.';

export function ollamaProvider(options: { host: string; apiKey?: string }): Provider {
  // ollama-js 0.6 has one AbortController per client: the attempt's own signal reaches fetch through this scope.
  const scope = new AsyncLocalStorage<AttemptScope>();
  const client = new OllamaClient({
    host: options.host,
    ...(options.apiKey && { headers: { Authorization: `Bearer ${options.apiKey}` } }),
    fetch: async (input, init) => {
      const attempt = scope.getStore();
      const response = await httpFetch(input, { ...init, signal: attempt?.signal ?? init?.signal ?? null });
      if (attempt) attempt.response = response;
      return attempt?.streaming && response.ok && response.body ? jsonLinesOnly(response) : response;
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
            options: optionsOf(call),
          });
        } catch (err) {
          throw failure(err, call.signal, attempt.response);
        }
        return toAnswer(reply);
      });
    },
    stream: (call) =>
      answerStream(call, {
        async *pieces(signal) {
          const attempt: AttemptScope = { signal, streaming: true };
          let lines: AbortableAsyncIterator<ChatResponse>;
          try {
            lines = await scope.run(attempt, () =>
              client.chat({ model: call.model, messages: call.messages, stream: true, options: optionsOf(call) }),
            );
          } catch (err) {
            throw failure(err, call.signal, attempt.response);
          }
          try {
            yield* streamPieces(lines);
          } finally {
            client.forget(lines);
          }
        },
        failure: (err, signal) => {
          if (err instanceof Error && err.constructor === Error && !signal.aborted)
            // The SDK's own words for a stream without its last line, else a `{"error": …}` line it threw as is.
            return new ProviderError({
              kind: 'retryable',
              code: err.message === NOT_DONE ? 'stream_incomplete' : 'response_error',
            });
          return failure(err, signal, undefined);
        },
      }),
  };
}

function optionsOf(call: ProviderCall) {
  return {
    ...(call.maxTokens !== undefined && { num_predict: call.maxTokens }),
    ...(call.temperature !== undefined && { temperature: call.temperature }),
  };
}

function failure(err: unknown, signal: AbortSignal, response: Response | undefined): ProviderError {
  if (response && !response.ok) return httpFailure(response.status, (name) => response.headers.get(name));
  // The SDK parses the answer without catching: a 200 whose body is not JSON ends up here.
  if (err instanceof SyntaxError && !signal.aborted) return answerFailure('response_not_json');
  return transportFailure(signal, responseBodyErrorIn(err)?.code);
}

/**
 * The same answer, failing (with a SyntaxError) at the first line that is not JSON: the SDK would log
 * such a line, provider text, to the console and skip it.
 */
function jsonLinesOnly(response: Response): Response {
  const decoder = new TextDecoder();
  let partial = '';
  const check = (lines: string) => {
    for (const line of lines.split('\n')) if (line.trim()) JSON.parse(line);
  };
  const lines = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      const text = decoder.decode(chunk, { stream: true });
      const end = text.lastIndexOf('\n');
      if (end < 0) partial += text;
      else {
        check(partial + text.slice(0, end));
        partial = text.slice(end + 1);
      }
      controller.enqueue(chunk);
    },
    flush() {
      check(partial + decoder.decode());
    },
  });
  const { status, statusText, headers } = response;
  return new Response(response.body!.pipeThrough(lines), { status, statusText, headers });
}

/**
 * The visible content of a streamed reply: a leading `<think>…</think>` block (or several) and the
 * whitespace around it are withheld as they arrive; a block cut off by `num_predict` leaves no content.
 */
async function* streamPieces(lines: AsyncIterable<Partial<ChatResponse>>): AsyncGenerator<StreamPiece> {
  const visible = new ThinkingFilter();
  let last: Partial<ChatResponse> | undefined;
  for await (const line of lines) {
    last = line;
    const text = visible.add(typeof line.message?.content === 'string' ? line.message.content : '');
    if (text) yield { type: 'content', text };
  }
  if (!last?.done) return; // no `done` line: the stream was cut short
  const rest = visible.flush();
  if (rest) yield { type: 'content', text: rest };
  yield {
    type: 'end',
    finishReason: finishReasonOf(last.done_reason),
    usage: { prompt_tokens: tokenCount(last.prompt_eval_count), completion_tokens: tokenCount(last.eval_count) },
  };
}

const OPEN = '<think>';
const CLOSE = '</think>';

/** Withholds what `stripThinking` removes from a whole answer, piece by piece: leading thinking and the space around it. */
class ThinkingFilter {
  private state: 'before' | 'thinking' | 'content' = 'before';
  /** What is held back while it could still open or close a thinking block (never the thinking itself). */
  private held = '';

  /** The visible text this piece adds (may be empty). */
  add(text: string): string {
    if (this.state === 'content') return text;
    this.held += text;
    for (;;) {
      if (this.state === 'thinking') {
        const end = this.held.indexOf(CLOSE);
        if (end < 0) {
          this.held = this.held.slice(-(CLOSE.length - 1)); // enough to find a closing tag split across pieces
          return '';
        }
        this.held = this.held.slice(end + CLOSE.length);
        this.state = 'before';
      }
      this.held = this.held.trimStart();
      if (!this.held || OPEN.startsWith(this.held)) return '';
      if (!this.held.startsWith(OPEN)) break;
      this.held = this.held.slice(OPEN.length);
      this.state = 'thinking';
    }
    this.state = 'content';
    const visible = this.held;
    this.held = '';
    return visible;
  }

  /** At the end: held text that never became a thinking block is content after all. */
  flush(): string {
    return this.state === 'before' ? this.held : '';
  }
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
