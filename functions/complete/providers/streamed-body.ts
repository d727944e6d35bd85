// A provider's streamed answer (server-sent events, NDJSON or AWS's binary event stream) as the web `Response` the
// SDKs read, handed over as soon as its headers arrive, with its memory bounded and its connection closed whenever
// its reader stops.
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Transform } from 'node:stream';

/** The most one message of a stream (an event up to its blank line, an NDJSON line, a binary frame) may hold before it is abandoned. */
export const MAX_STREAM_MESSAGE_BYTES = 8 * 1024 * 1024;

/** AWS's binary event stream (Bedrock's ConverseStream): length-prefixed frames, not lines. */
const AWS_EVENT_STREAM = 'application/vnd.amazon.eventstream';

/** Content types of answers that arrive piece by piece; anything else is read whole. */
export function isStreamContentType(contentType: string | undefined): boolean {
  // Plain string tests: this runs for every answer, streamed or not.
  return (
    contentType !== undefined &&
    (contentType.startsWith('text/event-stream') ||
      contentType.includes('ndjson') ||
      contentType.startsWith(AWS_EVENT_STREAM))
  );
}

const LF = 0x0a;
const CR = 0x0d;

/** Counts the bytes a reader must hold because no message of the stream ended yet. */
interface MessageBound {
  /** Adds a chunk; false once one message has grown (or announced it will grow) past MAX_STREAM_MESSAGE_BYTES. */
  add(chunk: Buffer): boolean;
}

/**
 * A message ends at a blank line in server-sent events (where an event may span many `data:` lines), at
 * each newline in NDJSON.
 */
class LineBound implements MessageBound {
  private pending = 0;
  /** The last byte seen, carriage returns skipped, was a newline (a blank line may straddle two chunks). */
  private afterNewline = false;
  constructor(private readonly blankLineEnds: boolean) {}

  add(chunk: Buffer): boolean {
    const end = this.lastEnd(chunk);
    this.pending = end < 0 ? this.pending + chunk.length : chunk.length - end - 1;
    if (this.blankLineEnds) {
      let last = chunk.length - 1;
      while (last >= 0 && chunk[last] === CR) last--;
      if (last >= 0) this.afterNewline = chunk[last] === LF;
    }
    return this.pending <= MAX_STREAM_MESSAGE_BYTES;
  }

  /** The index of the last newline in `chunk` that ends a message, or -1. */
  private lastEnd(chunk: Buffer): number {
    for (let at = chunk.lastIndexOf(LF); at >= 0; at = at === 0 ? -1 : chunk.lastIndexOf(LF, at - 1)) {
      if (!this.blankLineEnds) return at;
      let before = at - 1;
      while (before >= 0 && chunk[before] === CR) before--;
      if (before < 0 ? this.afterNewline : chunk[before] === LF) return at;
    }
    return -1;
  }
}

/**
 * AWS event-stream frames start with their total length (4 bytes, big-endian), which the SDK's decoder
 * allocates at once: a frame that announces more than the bound is refused before a byte of it is held.
 */
class FrameBound implements MessageBound {
  /** Bytes of the current frame still to come; 0 between frames. */
  private left = 0;
  /** The length prefix read so far, when a chunk ended inside it. */
  private prefix: number[] = [];

  add(chunk: Buffer): boolean {
    let at = 0;
    while (at < chunk.length) {
      if (this.left === 0) {
        while (this.prefix.length < 4 && at < chunk.length) this.prefix.push(chunk[at++]!);
        if (this.prefix.length < 4) return true;
        const length = Buffer.from(this.prefix).readUInt32BE(0);
        this.prefix = [];
        if (length > MAX_STREAM_MESSAGE_BYTES) return false;
        // A length shorter than its own prefix is no frame: the decoder fails on it, nothing is held.
        this.left = Math.max(0, length - 4);
      }
      const taken = Math.min(this.left, chunk.length - at);
      this.left -= taken;
      at += taken;
    }
    return true;
  }
}

function boundFor(contentType: string): MessageBound {
  if (contentType.startsWith(AWS_EVENT_STREAM)) return new FrameBound();
  return new LineBound(/event-stream/i.test(contentType));
}

/** Response headers without the ones that described the encoded body (the body handed over is decoded). */
function decodedHeaders(raw: IncomingMessage['headers']): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined || name === 'content-encoding' || name === 'content-length') continue;
    if (Array.isArray(value)) for (const v of value) headers.append(name, v);
    else headers.set(name, value);
  }
  return headers;
}

export interface StreamedBodyParts {
  req: ClientRequest;
  res: IncomingMessage;
  /** The decoder the body goes through, when it is compressed. */
  decoder: Transform | undefined;
  signal: AbortSignal | undefined;
  abortError: () => Error;
  /** The error for a body that stopped short of its end (the connection cut, the decoder failing). */
  cutError: () => Error;
  tooLargeError: () => Error;
}

/**
 * The answer as a `Response` whose body is read from the socket while it arrives, with back-pressure.
 * The body errors (and the connection is destroyed) when the signal fires, the connection is cut, or one
 * message passes MAX_STREAM_MESSAGE_BYTES; cancelling the body destroys the connection too, so a reader
 * that stops early never leaves a half-read socket in the pool.
 */
export function streamedResponse(parts: StreamedBodyParts): Response {
  const { req, res, decoder, signal } = parts;
  const source: NodeJS.ReadableStream = decoder ? res.pipe(decoder) : res;
  const bound = boundFor(res.headers['content-type'] ?? '');
  let finished = false;
  let controller!: ReadableStreamDefaultController<Uint8Array>;

  const release = () => {
    finished = true;
    signal?.removeEventListener('abort', onAbort);
  };
  const destroy = () => {
    req.destroy();
    res.destroy();
    decoder?.destroy();
  };
  const fail = (err: Error) => {
    if (finished) return;
    release();
    destroy();
    controller.error(err);
  };
  const onAbort = () => fail(parts.abortError());
  const cut = () => fail(signal?.aborted ? parts.abortError() : parts.cutError());

  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
        res.on('error', cut);
        decoder?.on('error', cut);
        // A socket closed before the last byte ends the response without 'end'.
        res.on('close', () => {
          if (!res.complete) cut();
        });
        source.on('data', (chunk: Buffer) => {
          if (finished) return;
          if (!bound.add(chunk)) return fail(parts.tooLargeError());
          c.enqueue(chunk);
          if ((c.desiredSize ?? 0) <= 0) source.pause();
        });
        source.on('end', () => {
          if (finished) return;
          release();
          c.close();
        });
      },
      pull() {
        source.resume();
      },
      cancel() {
        if (finished) return;
        release();
        destroy();
      },
    },
    { highWaterMark: 16 },
  );
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return new Response(body, {
    status: res.statusCode ?? 502,
    statusText: res.statusMessage ?? '',
    headers: decodedHeaders(res.headers),
  });
}
