// The rules every streaming adapter keeps alike: content bounded, one end piece last, an empty answer a
// failure, failures classified without provider text, and the connection closed the moment the reader stops.
import { answerFailure, ProviderError, transportFailure } from './failure.ts';
import { responseBodyErrorIn } from './http-fetch.ts';
import { MAX_STREAM_CONTENT_BYTES, type ProviderCall, type StreamPiece } from './provider.ts';

/** What one adapter brings: its pieces as read from its SDK's stream, and its SDK's errors classified. */
export interface PieceSource {
  /** The pieces, from a call made with `signal` (which fires when the reader stops early). */
  pieces(signal: AbortSignal): AsyncIterable<StreamPiece>;
  /** A failure as `complete` classifies it; `signal` is the call's own. */
  failure(err: unknown, signal: AbortSignal): ProviderError;
}

/**
 * The stream `Provider.stream` returns. Its `return()` aborts the provider call at once, even while a
 * `next()` still waits for the provider (an async generator would queue the `return()` behind it).
 */
export function answerStream(call: ProviderCall, source: PieceSource): AsyncIterable<StreamPiece> {
  return {
    [Symbol.asyncIterator]() {
      const local = new AbortController();
      const follow = () => local.abort(call.signal.reason);
      if (call.signal.aborted) follow();
      else call.signal.addEventListener('abort', follow, { once: true });
      const unfollow = () => call.signal.removeEventListener('abort', follow);
      const inner = checked(source, local, call.signal);
      let closed = false;
      return {
        async next() {
          try {
            const result = await inner.next();
            if (result.done) unfollow();
            return result;
          } catch (err) {
            unfollow();
            if (closed) return { done: true, value: undefined };
            throw err;
          }
        },
        async return() {
          if (!closed) {
            closed = true;
            unfollow();
            local.abort();
          }
          await inner.return(undefined).catch(() => undefined);
          return { done: true, value: undefined };
        },
      };
    },
  };
}

async function* checked(source: PieceSource, local: AbortController, signal: AbortSignal): AsyncGenerator<StreamPiece> {
  let bytes = 0;
  let answered = false;
  let ended = false;
  try {
    for await (const piece of source.pieces(local.signal)) {
      if (piece.type === 'end') {
        // As for `complete`: nothing said is no answer, unless the model refused or was cut off.
        if (!answered && piece.finishReason !== 'length' && piece.finishReason !== 'content_filter')
          throw answerFailure('response_empty');
        ended = true;
        yield piece;
        return;
      }
      if (!piece.text) continue;
      bytes += Buffer.byteLength(piece.text);
      if (bytes > MAX_STREAM_CONTENT_BYTES) throw new ProviderError({ kind: 'retryable', code: 'response_too_large' });
      answered = true;
      yield piece;
    }
  } catch (err) {
    if (err instanceof ProviderError) throw err;
    if (!signal.aborted && responseBodyErrorIn(err)?.code === 'response_incomplete') throw incomplete();
    throw source.failure(err, signal);
  } finally {
    // Whatever stopped the stream short of its end, the connection must not stay open behind it.
    if (!ended) local.abort();
  }
  throw signal.aborted ? transportFailure(signal) : incomplete();
}

/** The stream stopped before its end event: cut off, or closed by the provider. */
function incomplete(): ProviderError {
  return new ProviderError({ kind: 'retryable', code: 'stream_incomplete' });
}
