// Sends a fake provider's answer the ways real servers and networks deliver a bad day: compressed,
// cut off mid-body, trickling after the headers, or too large, while counting what actually left.
import type { ServerResponse } from 'node:http';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  brotliCompressSync,
  constants,
  createBrotliCompress,
  createDeflate,
  createGzip,
  deflateSync,
  gzipSync,
} from 'node:zlib';

export type Encoding = 'gzip' | 'deflate' | 'br';

export interface BodyShape {
  /** Sent with this `content-encoding`. */
  encoding?: Encoding;
  /**
   * Appends this many bytes of `x` to the answer's content, generated as they are sent (chunked, no
   * `content-length`), so a huge answer or a compression bomb costs the fake no memory.
   */
  padBytes?: number;
  /** Announces the whole (encoded) body in `content-length`, sends only this many bytes, then closes the socket. */
  cutAfter?: number;
  /** Sends the body `bytes` at a time, one piece every `everyMs`, after the headers. */
  trickle?: { bytes: number; everyMs: number };
}

/** What one answer's body did on the wire. */
export interface Delivery {
  /** Bytes of the (encoded) body written to the socket so far. */
  bytes: number;
  /** The whole body was sent. */
  complete: boolean;
  /** Settles when sending stopped: finished, cut, or the client went away. */
  ended: Promise<void>;
}

/** The placeholder the answer's content carries where the padding goes. */
export const PAD_MARKER = '@@fake-padding@@';

const FILL = Buffer.alloc(64 * 1024, 'x');

export function needsShaping(shape: BodyShape): boolean {
  return (
    shape.encoding !== undefined ||
    shape.padBytes !== undefined ||
    shape.cutAfter !== undefined ||
    shape.trickle !== undefined
  );
}

function encodeSync(body: Buffer, encoding: Encoding | undefined): Buffer {
  if (encoding === 'gzip') return gzipSync(body);
  if (encoding === 'deflate') return deflateSync(body);
  if (encoding === 'br') return brotliCompressSync(body);
  return body;
}

function encoder(encoding: Encoding | undefined): Transform | undefined {
  if (encoding === 'gzip') return createGzip();
  if (encoding === 'deflate') return createDeflate();
  if (encoding === 'br') return createBrotliCompress({ params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }); // the default (11) is slow
  return undefined;
}

function* padded(json: string, padBytes: number): Generator<Buffer> {
  const [prefix, suffix] = json.split(PAD_MARKER) as [string, string];
  yield Buffer.from(prefix);
  for (let left = padBytes; left > 0; left -= FILL.length) yield left >= FILL.length ? FILL : FILL.subarray(0, left);
  yield Buffer.from(suffix);
}

/** Writes `json` (whose content holds PAD_MARKER when padding is asked for) as `shape` says. */
export function writeShapedBody(
  res: ServerResponse,
  status: number,
  headers: Record<string, string>,
  json: string,
  shape: BodyShape,
): Delivery {
  const delivery = { bytes: 0, complete: false } as Delivery;
  const encodingHeader = shape.encoding ? { 'content-encoding': shape.encoding } : {};
  if (shape.padBytes !== undefined) {
    res.writeHead(status, { ...headers, ...encodingHeader });
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        delivery.bytes += chunk.length;
        done(null, chunk);
      },
    });
    const source = Readable.from(padded(json, shape.padBytes));
    const encode = encoder(shape.encoding);
    delivery.ended = (encode ? pipeline(source, encode, counter, res) : pipeline(source, counter, res)).then(
      () => void (delivery.complete = true),
      () => undefined, // the client went away before the end: exactly what the size tests look for
    );
    return delivery;
  }
  const body = encodeSync(Buffer.from(json.replace(PAD_MARKER, '')), shape.encoding);
  res.writeHead(status, { ...headers, ...encodingHeader, 'content-length': String(body.length) });
  const sent = shape.cutAfter === undefined ? body : body.subarray(0, shape.cutAfter);
  const gone = { closed: false };
  res.on('close', () => (gone.closed = true));
  res.on('error', () => undefined); // a write after the client left: nothing to do
  delivery.ended = writePieces(res, sent, shape.trickle, delivery, gone).then(() => {
    if (gone.closed) return;
    if (shape.cutAfter === undefined) {
      delivery.complete = true;
      res.end();
    } else {
      res.socket?.end(); // flushes what was written, then closes: the body ends short of its content-length
    }
  });
  return delivery;
}

async function writePieces(
  res: ServerResponse,
  body: Buffer,
  trickle: BodyShape['trickle'],
  delivery: Delivery,
  gone: { closed: boolean },
): Promise<void> {
  const size = trickle?.bytes ?? body.length;
  for (let at = 0; at < body.length; at += size) {
    if (trickle && at > 0) await new Promise((resolve) => setTimeout(resolve, trickle.everyMs));
    if (gone.closed) return; // the client gave up
    const piece = body.subarray(at, at + size);
    delivery.bytes += piece.length;
    if (!res.write(piece)) await new Promise((resolve) => (res.once('drain', resolve), res.once('close', resolve)));
  }
}
