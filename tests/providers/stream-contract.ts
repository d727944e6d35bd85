// The streaming half of the provider contract, written once: every adapter streams through its SDK over its
// wire fake, ends with one end piece, classifies failures as `complete` does and closes its connection when told.
import { describe, expect, it, vi } from 'vitest';
import { ProviderError, type FailureInfo } from '../../functions/complete/providers/failure.ts';
import { MAX_STREAM_CONTENT_BYTES, type StreamPiece } from '../../functions/complete/providers/provider.ts';
import { PROVIDER_ERROR_TEXT, type Behaviour, type RecordedRequest } from '../fakes/provider-server.ts';
import type { StreamDelivery } from '../fakes/provider-stream.ts';

/** What the streaming contract needs of a wire fake (`FakeProvider` and `FakeBedrock` are two). */
export interface StreamFake {
  next(...behaviours: Behaviour[]): unknown;
  received(count?: number): Promise<void>;
  readonly requests: readonly RecordedRequest[];
  readonly streams: readonly StreamDelivery[];
}

export interface StreamContract {
  name: string;
  /** A stop reason of its own that is neither a stop nor a cut. */
  otherStopReason: string;
  /** How it refuses in a stream, and the pieces (before the end) that must come out. */
  refusals?: { name: string; behaviour: Behaviour; pieces: StreamPiece[] }[];
  /** Error event types it sends inside a stream, and the failure kind each stands for. */
  errorEvents?: [type: string, kind: FailureInfo['kind']][];
  /** It reads a 429's `Retry-After` (default true; false where its API sends none). */
  retryAfter?: boolean;
  /** The recorded request asked for a stream (default: its body says `stream: true`). */
  streamedRequest?: (request: RecordedRequest) => boolean;
}

/** `open` streams one call (saying Hello) through the adapter under test. */
export function runStreamContract(
  contract: StreamContract,
  fake: StreamFake,
  stream: (signal: AbortSignal) => AsyncIterable<StreamPiece>,
): void {
  const { name } = contract;

  function open(signal = new AbortController().signal) {
    return stream(signal);
  }

  /** Every piece the stream gave, and the failure that ended it (checked for provider text), if any. */
  async function read(behaviour: Behaviour, signal?: AbortSignal) {
    fake.next(behaviour);
    const pieces: StreamPiece[] = [];
    try {
      for await (const piece of open(signal)) pieces.push(piece);
    } catch (err) {
      expect(err).toBeInstanceOf(ProviderError);
      const error = err as ProviderError;
      for (const text of [error.message, JSON.stringify(error.info), String(error.stack)])
        expect(text).not.toContain(PROVIDER_ERROR_TEXT);
      expect(error.cause).toBeUndefined();
      return { pieces, failure: error.info };
    }
    return { pieces, failure: undefined };
  }

  const text = (pieces: StreamPiece[]) => pieces.map((p) => (p.type === 'end' ? '' : p.text)).join('');

  describe(`${name}: a streamed answer`, () => {
    it('gives the content in the pieces the provider sent, in order, then one end piece with usage', async () => {
      const pieces = ['Bon', 'jour', ', le', ' monde'];
      const { pieces: got, failure } = await read({ stream: { pieces, everyMs: 5 }, usage: { input: 5, output: 7 } });
      expect(failure).toBeUndefined();
      expect(got).toEqual([
        ...pieces.map((text) => ({ type: 'content', text })),
        { type: 'end', finishReason: 'stop', usage: { prompt_tokens: 5, completion_tokens: 7 } },
      ]);
      const streamed = contract.streamedRequest ?? ((request: RecordedRequest) => request.body.stream === true);
      expect(streamed(fake.requests[0]!)).toBe(true);
      expect(fake.streams[0]!.complete).toBe(true);
    });

    it('ends with finish_reason length when the model was cut at max_tokens', async () => {
      const { pieces } = await read({ content: 'Once upon', finish: 'length' });
      expect(text(pieces)).toBe('Once upon');
      expect(pieces.at(-1)).toMatchObject({ type: 'end', finishReason: 'length' });
    });

    it('ends with finish_reason other for a stop reason that is neither', async () => {
      const { pieces } = await read({ content: 'Hm', stopReason: contract.otherStopReason });
      expect(pieces.at(-1)).toMatchObject({ type: 'end', finishReason: 'other' });
    });

    it('reports usage counts that are not non-negative integers below 2^31 as unknown', async () => {
      const { pieces } = await read({ usage: { input: -1, output: 2 ** 31 } });
      expect(pieces.at(-1)).toMatchObject({ usage: { prompt_tokens: null, completion_tokens: null } });
    });

    it('fails, retryably, when the stream ends with no content', async () => {
      const { pieces, failure } = await read({ content: null });
      expect(pieces).toEqual([]);
      expect(failure).toMatchObject({ kind: 'retryable', code: 'response_empty' });
    });

    for (const refusal of contract.refusals ?? []) {
      it(`streams a refusal (${refusal.name}) and ends with finish_reason content_filter`, async () => {
        const { pieces } = await read(refusal.behaviour);
        expect(pieces.slice(0, -1)).toEqual(refusal.pieces);
        expect(pieces.at(-1)).toMatchObject({ type: 'end', finishReason: 'content_filter' });
      });
    }
  });

  describe(`${name}: an error before the stream keeps its class`, () => {
    it.each([
      [401, 'auth'],
      [404, 'not_found'],
      [400, 'rejected'],
      [429, 'rate_limited'],
      [500, 'retryable'],
      [529, 'retryable'],
    ] as const)('%i is %s', async (status, kind) => {
      const { pieces, failure } = await read({ status });
      expect(pieces).toEqual([]);
      expect(failure).toMatchObject({ kind, status });
    });

    if (contract.retryAfter !== false) {
      it("reads a 429's Retry-After", async () => {
        const { failure } = await read({ status: 429, headers: { 'retry-after': '7' } });
        expect(failure).toMatchObject({ kind: 'rate_limited', retryAfterMs: 7_000 });
      });
    }
  });

  describe(`${name}: a failure inside the stream`, () => {
    it('ends an error event after the pieces before it with a retryable failure', async () => {
      const { pieces, failure } = await read({
        stream: { pieces: ['a', 'b', 'c'], failAfter: { pieces: 2, how: 'error' } },
      });
      expect(pieces).toEqual([
        { type: 'content', text: 'a' },
        { type: 'content', text: 'b' },
      ]);
      expect(failure?.kind).toBe('retryable');
      expect(failure?.status).toBeUndefined();
    });

    for (const [type, kind] of contract.errorEvents ?? []) {
      it(`classifies an error event ${type} as ${kind}, like the status it stands for`, async () => {
        const { failure } = await read({ stream: { failAfter: { pieces: 1, how: 'error', errorType: type } } });
        expect(failure).toMatchObject({ kind, code: type });
      });
    }

    it('fails a stream with a message that is not JSON as response_not_json, logging none of it', async () => {
      const logged = (['log', 'info', 'warn', 'error', 'debug'] as const).map((level) =>
        vi.spyOn(console, level).mockImplementation(() => undefined),
      );
      try {
        const { pieces, failure } = await read({
          stream: { pieces: ['a', 'b'], failAfter: { pieces: 1, how: 'garbage' } },
        });
        expect(pieces).toEqual([{ type: 'content', text: 'a' }]);
        expect(failure).toMatchObject({ kind: 'retryable', code: 'response_not_json' });
        for (const spy of logged) expect(JSON.stringify(spy.mock.calls)).not.toContain(PROVIDER_ERROR_TEXT);
      } finally {
        for (const spy of logged) spy.mockRestore();
      }
    });

    it('reports a connection cut mid-stream as stream_incomplete', async () => {
      const { pieces, failure } = await read({ stream: { pieces: ['a', 'b'], failAfter: { pieces: 1, how: 'cut' } } });
      expect(pieces).toEqual([{ type: 'content', text: 'a' }]);
      expect(failure).toMatchObject({ kind: 'retryable', code: 'stream_incomplete' });
      expect(failure?.timeout).toBeFalsy();
    });

    it(`abandons a stream past ${MAX_STREAM_CONTENT_BYTES} bytes of content, closing its connection`, async () => {
      // The fake then stays silent: only the reader can close the connection.
      const hangAtEnd = { failAfter: { pieces: Infinity, how: 'hang' as const } };
      const { failure } = await read({ padBytes: MAX_STREAM_CONTENT_BYTES + 1, stream: hangAtEnd });
      expect(failure).toMatchObject({ kind: 'retryable', code: 'response_too_large' });
      await fake.streams[0]!.socketClosed;
      expect(fake.streams[0]!.complete).toBe(false);
    });

    it('abandons one message that grows past the bound without ending, closing its connection', async () => {
      const { failure } = await read({ stream: { endlessMessageBytes: 4 * MAX_STREAM_CONTENT_BYTES } });
      expect(failure).toMatchObject({ kind: 'retryable', code: 'response_too_large' });
      await fake.streams[0]!.socketClosed;
    });
  });

  describe(`${name}: the reader closes the stream`, () => {
    it('stops at once when its signal fires, as a timeout, and closes the connection', async () => {
      const controller = new AbortController();
      fake.next({ stream: { pieces: ['a', 'b'], failAfter: { pieces: 1, how: 'hang' } } });
      const stream = open(controller.signal)[Symbol.asyncIterator]();
      expect(await stream.next()).toEqual({ done: false, value: { type: 'content', text: 'a' } });
      const pending = stream.next();
      controller.abort();
      const err = await pending.then(
        () => expect.unreachable('the stream went on'),
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ProviderError);
      expect((err as ProviderError).info).toMatchObject({ kind: 'retryable', timeout: true });
      await fake.streams[0]!.socketClosed;
    });

    it('closes the connection when the loop breaks after a piece', async () => {
      fake.next({ stream: { pieces: ['a', 'b'], failAfter: { pieces: 1, how: 'hang' } } });
      for await (const piece of open()) {
        expect(piece).toEqual({ type: 'content', text: 'a' });
        break;
      }
      await fake.streams[0]!.socketClosed;
    });

    it('closes the connection when return() comes while a piece is awaited', async () => {
      fake.next({ stream: { pieces: ['a', 'b'], failAfter: { pieces: 1, how: 'hang' } } });
      const stream = open()[Symbol.asyncIterator]();
      await stream.next();
      const pending = stream.next();
      await stream.return!();
      await fake.streams[0]!.socketClosed;
      expect(await pending).toEqual({ done: true, value: undefined });
    });

    it('stops at once, as a timeout, when its signal fires before the provider answers', async () => {
      const controller = new AbortController();
      fake.next({ hang: true });
      const pending = (async () => {
        for await (const _ of open(controller.signal));
      })().then(
        () => expect.unreachable('the stream answered'),
        (e: unknown) => e,
      );
      await fake.received(1);
      controller.abort();
      expect(((await pending) as ProviderError).info).toMatchObject({ kind: 'retryable', timeout: true });
    });
  });
}
