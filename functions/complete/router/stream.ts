// One streamed attempt: a deployment's stream read up to its first piece within the attempt's time, then
// handed over live, bounded by the request's deadline, with how it ended reported to the router once.
import type { Deployment } from '../config.ts';
import type { Deadline } from '../deadline.ts';
import { answerFailure, ProviderError, type FailureInfo } from '../providers/failure.ts';
import type { Provider, ProviderCall, StreamPiece } from '../providers/provider.ts';
import type { Attempt } from './router.ts';

export type StreamRouteResult =
  | {
      ok: true;
      deployment: Deployment;
      group: string;
      /** Every attempt made, as `route` reports them (the answering one `ok`). */
      attempts: Attempt[];
      /**
       * The pieces read while choosing: the first content or refusal piece is the last of them, or the
       * `end` piece of an answer with neither (cut off at `max_tokens` in its thinking, or an empty
       * refusal), after which `rest` ends at once.
       */
      head: StreamPiece[];
      /**
       * The rest of the answer. Ends normally after the `end` piece. A failure after the first piece is
       * thrown as ProviderError (timeout: true at the request's deadline), is not retried, and the router
       * has already counted it against the deployment. Breaking out (`return()`) closes the provider call.
       * When the caller's signal aborts, it throws a ProviderError with code CLIENT_CLOSED, not counted.
       */
      rest: AsyncIterable<StreamPiece>;
      /** From the answering attempt's start to its first piece, ms (the router's clock). */
      ttftMs: number;
    }
  | { ok: false; attempts: Attempt[]; retryAfterS?: number };

/** The code of the failure a stream reports when the caller's signal aborted it: never the deployment's fault. */
export const CLIENT_CLOSED = 'client_closed';

/** Runs `fire` after `ms` on the router's clock; returns what cancels it. */
export type SetTimer = (ms: number, fire: () => void) => () => void;

/** What the router learns of a streamed call past its first piece; each call happens at most once. */
export interface StreamAccounting {
  firstPiece(ttftMs: number): void;
  /** The end piece arrived. */
  ended(): void;
  /** It failed after its first piece (at the deadline too): counts against the deployment. */
  failed(failure: FailureInfo): void;
  /** The call is over, whichever way (always, once). */
  closed(): void;
}

export interface StreamAttemptInput {
  provider: Provider;
  call: Omit<ProviderCall, 'signal'>;
  /** How long to wait for the first piece: the deployment's timeout, clamped to the deadline. */
  firstPieceWithinMs: number;
  deadline: Deadline;
  /** The caller went away: abort at once, whatever the stage, and count nothing. */
  signal?: AbortSignal;
  now: () => number;
  setTimer: SetTimer;
  accounting: StreamAccounting;
}

/** A streamed answer past its first piece: what was read, and the rest still coming. */
export interface OpenStream {
  head: StreamPiece[];
  ttftMs: number;
  /** It began with a refusal (or ended refusing before any content): content-policy fallbacks may replace it. */
  refused: boolean;
  rest: AsyncIterable<StreamPiece>;
  /** Stops it without counting anything against the deployment: its answer is not used. */
  close(): void;
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };
const incomplete = () => new ProviderError({ kind: 'retryable', code: 'stream_incomplete' });

/**
 * Opens a stream on one deployment. Resolves with the open stream once its first content or refusal
 * piece has arrived, or with the failure that came first (an error, a stream without an answer, the
 * wait for the first piece timing out, the caller's signal).
 */
export function openStream(input: StreamAttemptInput): Promise<OpenStream | ProviderError> {
  return new StreamCall(input).open();
}

type StopReason = 'timeout' | 'client' | 'closed';

class StreamCall {
  private readonly controller = new AbortController();
  private why: StopReason | undefined;
  /** Rejects when the call is stopped, so a provider that ignores its signal still cannot hold the router. */
  private readonly stopped: Promise<never>;
  private cancelTimer: () => void;
  private iterator: AsyncIterator<StreamPiece> | undefined;
  private answered = false;
  private settled = false;
  /** The end piece has been read. */
  private ended = false;
  private finished = false;
  private readonly started: number;

  constructor(private readonly input: StreamAttemptInput) {
    this.started = input.now();
    this.stopped = new Promise<never>((_, reject) =>
      this.controller.signal.addEventListener('abort', () => reject(this.controller.signal.reason), { once: true }),
    );
    this.stopped.catch(() => undefined);
    this.cancelTimer = input.setTimer(Math.max(1, input.firstPieceWithinMs), () => this.stop('timeout'));
    if (input.signal?.aborted) this.stop('client');
    else input.signal?.addEventListener('abort', this.onClientGone, { once: true });
  }

  private readonly onClientGone = () => this.stop('client');

  async open(): Promise<OpenStream | ProviderError> {
    // Every piece but `end` is content or a refusal: the first piece read is the whole head.
    const head: StreamPiece[] = [];
    try {
      if (this.why) throw this.failureOf(undefined); // the caller left before the call began
      const stream = this.input.provider.stream({ ...this.input.call, signal: this.controller.signal });
      this.iterator = stream[Symbol.asyncIterator]();
      const piece = await this.next();
      // As `complete` answers: nothing said is no answer, unless the model refused or was cut off.
      if (piece.type === 'end' && piece.finishReason !== 'length' && piece.finishReason !== 'content_filter')
        throw answerFailure('response_empty');
      head.push(piece);
    } catch (err) {
      const failure = this.failureOf(err);
      this.finish();
      this.input.accounting.closed();
      return failure;
    }
    const ttftMs = this.input.now() - this.started;
    this.answered = true;
    this.cancelTimer();
    this.cancelTimer = this.input.setTimer(Math.max(1, this.input.deadline.remaining()), () => this.stop('timeout'));
    this.input.accounting.firstPiece(ttftMs);
    const last = head.at(-1)!;
    if (last.type === 'end') this.settle('ended');
    const rest: AsyncIterator<StreamPiece> = { next: () => this.nextOfRest(), return: async () => this.close() };
    return {
      head,
      ttftMs,
      refused: last.type === 'refusal' || (last.type === 'end' && last.finishReason === 'content_filter'),
      rest: { [Symbol.asyncIterator]: () => rest },
      close: () => this.close(),
    };
  }

  /** The provider's next piece, or the reason the call was stopped, whichever comes first. */
  private async next(): Promise<StreamPiece> {
    const result = await Promise.race([this.iterator!.next(), this.stopped]);
    if (result.done) throw incomplete();
    return result.value;
  }

  private async nextOfRest(): Promise<IteratorResult<StreamPiece>> {
    if (this.finished) return DONE;
    if (this.ended) {
      // After the end piece: let the provider finish its stream (bounded by the deadline), then stop.
      const after = await Promise.race([this.iterator!.next(), this.stopped]).catch(() => undefined);
      this.finish(after?.done === true);
      return DONE;
    }
    try {
      const piece = await this.next();
      if (piece.type === 'end') this.settle('ended');
      return { done: false, value: piece };
    } catch (err) {
      if (this.why === 'closed') return DONE;
      const failure = this.failureOf(err);
      this.settle(failure.info.code === CLIENT_CLOSED ? 'closed' : failure.info);
      this.finish();
      throw failure;
    }
  }

  private close(): IteratorReturnResult<undefined> {
    if (!this.finished) {
      this.stop('closed');
      this.finish();
    }
    return DONE;
  }

  private stop(why: StopReason): void {
    if (this.why) return;
    this.why = why;
    this.controller.abort();
    // Past the first piece nobody may be reading: the outcome is settled here, not at the next read.
    if (this.answered) this.settle(why === 'timeout' ? { kind: 'retryable', timeout: true } : 'closed');
  }

  private failureOf(err: unknown): ProviderError {
    if (this.why === 'client') return new ProviderError({ kind: 'retryable', code: CLIENT_CLOSED });
    if (this.why === 'timeout') return new ProviderError({ kind: 'retryable', timeout: true });
    return err instanceof ProviderError ? err : new ProviderError({ kind: 'retryable', code: 'adapter_error' });
  }

  /** Reports how the answered stream ended, once. */
  private settle(outcome: 'ended' | 'closed' | FailureInfo): void {
    if (this.settled) return;
    this.settled = true;
    this.ended = outcome === 'ended';
    if (outcome === 'ended') this.input.accounting.ended();
    else if (outcome !== 'closed') this.input.accounting.failed(outcome);
    this.input.accounting.closed();
  }

  /** Lets go of everything: the timer, the caller's signal, and the provider call unless it ended by itself. */
  private finish(endedByItself = false): void {
    if (this.finished) return;
    this.finished = true;
    this.cancelTimer();
    this.input.signal?.removeEventListener('abort', this.onClientGone);
    if (endedByItself) return;
    if (!this.controller.signal.aborted) this.controller.abort();
    void this.iterator?.return?.().catch(() => undefined);
  }
}
