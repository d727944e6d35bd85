// A streamed Chat Completion as OpenAI sends it: `chat.completion.chunk` server-sent events, then `[DONE]`, or
// one error event when the answer fails after it began.
import { Readable } from 'node:stream';
import type OpenAI from 'openai';
import { MAX_STREAM_CONTENT_BYTES, type StreamPiece, type Usage } from './providers/provider.ts';
import { ProviderError } from './providers/failure.ts';
import type { StreamOutcome } from './streamed-call.ts';

type Streaming = Extract<StreamOutcome, { ok: true }>;
type FinishReason = OpenAI.ChatCompletionChunk.Choice['finish_reason'];

export interface ChunkStreamOptions {
  call: Streaming;
  requestId: string;
  createdS: number;
  includeUsage: boolean;
  /** Aborted when the client goes away (the body is destroyed before its end). */
  abort: AbortController;
}

const DONE = 'data: [DONE]\n\n';

/**
 * The chunks' fixed parts, built once per stream: every chunk carries the same id, created and model, so a
 * content delta costs one JSON string of its text. With `include_usage` every chunk but the last says
 * `"usage": null`, as OpenAI's do.
 */
function chunkFormat(id: string, createdS: number, model: string, includeUsage: boolean) {
  const head = `data: {"id":${JSON.stringify(id)},"object":"chat.completion.chunk","created":${createdS},"model":${JSON.stringify(model)},"choices":`;
  const tail = `${includeUsage ? ',"usage":null' : ''}}\n\n`;
  const choice = (delta: string, finish: FinishReason) =>
    `${head}[{"index":0,"delta":${delta},"logprobs":null,"finish_reason":${JSON.stringify(finish)}}]${tail}`;
  const contentHead = `${head}[{"index":0,"delta":{"content":`;
  const refusalHead = `${head}[{"index":0,"delta":{"refusal":`;
  const deltaTail = `},"logprobs":null,"finish_reason":null}]${tail}`;
  return {
    role: choice('{"role":"assistant","content":"","refusal":null}', null),
    content: (text: string) => contentHead + JSON.stringify(text) + deltaTail,
    refusal: (text: string) => refusalHead + JSON.stringify(text) + deltaTail,
    finish: (reason: FinishReason) => choice('{}', reason),
    usage: (usage: Usage) => {
      const { prompt_tokens: prompt, completion_tokens: completion } = usage;
      // OpenAI's counts are numbers: an unknown count is no usage at all, never a made-up 0.
      const counts =
        prompt !== null && completion !== null
          ? { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
          : null;
      return `${head}[],"usage":${JSON.stringify(counts)}}\n\n`;
    },
  };
}

/** The error event that ends a stream which failed after it began: OpenAI's error shape, never provider text. */
function errorEvent(code: 'timeout' | 'provider_error' | 'response_too_large'): string {
  const message = {
    timeout: "The request's deadline passed before the answer was complete.",
    provider_error: 'The provider failed after the answer began; the answer is incomplete.',
    response_too_large: 'The answer is larger than 8 MiB; it was cut off.',
  }[code];
  return `data: ${JSON.stringify({ error: { message, type: 'server_error', param: null, code } })}\n\n`;
}

/**
 * The event stream of one answered call. It ends the call's record whichever way it ends: the `end`
 * piece (then `[DONE]`), a failure after the first token (one error event, no `[DONE]`), or the client
 * going away (the body destroyed: the provider call is aborted at once).
 */
export function chatCompletionChunks({ call, requestId, createdS, includeUsage, abort }: ChunkStreamOptions): Readable {
  const format = chunkFormat(`chatcmpl-${requestId}`, createdS, call.deployment.id, includeUsage);
  let contentBytes = 0;

  /** The event for one piece, or an error event when the content passes the bound. */
  function eventOf(piece: Exclude<StreamPiece, { type: 'end' }>): string {
    contentBytes += Buffer.byteLength(piece.text, 'utf8');
    if (contentBytes > MAX_STREAM_CONTENT_BYTES) return errorEvent('response_too_large');
    return piece.type === 'content' ? format.content(piece.text) : format.refusal(piece.text);
  }

  async function* events(): AsyncGenerator<string> {
    let ended = false;
    let failed = false;
    try {
      yield format.role;
      const pieces = (async function* () {
        yield* call.head;
        yield* call.rest;
      })();
      for await (const piece of pieces) {
        if (piece.type === 'end') {
          ended = true;
          call.finish({ outcome: 'answered', usage: piece.usage });
          const reason = piece.finishReason === 'other' ? 'stop' : piece.finishReason;
          yield format.finish(reason);
          if (includeUsage) yield format.usage(piece.usage);
          yield DONE;
          return;
        }
        const event = eventOf(piece);
        failed = contentBytes > MAX_STREAM_CONTENT_BYTES;
        yield event;
        if (failed) return; // leaving the loop closes the provider call
      }
      // The router ends `rest` only after its end piece; a stream without one is a failure all the same.
      failed = true;
      yield errorEvent('provider_error');
    } catch (err) {
      if (abort.signal.aborted) return;
      failed = true;
      const timeout = err instanceof ProviderError && err.info.timeout === true;
      yield errorEvent(timeout ? 'timeout' : 'provider_error');
    } finally {
      // Neither ended nor failed: the body was destroyed (the client went away) while it waited.
      if (!ended) call.finish({ outcome: failed ? 'stream_failed' : 'client_gone' });
    }
  }

  const iterator = events();
  let done = false;
  return new Readable({
    read() {
      iterator.next().then(
        (step) => {
          done = step.done === true;
          this.push(step.done ? null : step.value);
        },
        (err: unknown) => this.destroy(err as Error),
      );
    },
    destroy(err, callback) {
      // Destroyed before its end: the client went away. The generator may be waiting on the provider, so
      // the abort (not the generator's return, which waits its turn) stops the provider call at once.
      if (!done) abort.abort();
      iterator.return(undefined).then(
        () => callback(err),
        () => callback(err),
      );
    },
  });
}
