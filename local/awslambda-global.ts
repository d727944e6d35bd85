// The `awslambda` global the Lambda Node.js runtime gives a function, for running the streaming entry locally.
//
// Faithful to the runtime interface client (github.com/aws/aws-lambda-nodejs-runtime-interface-client):
// - src/UserFunction.js: `streamifyResponse(handler)` only marks the handler with the symbol
//   `aws.lambda.runtime.handler.streaming` = 'response'; the runtime then calls it as
//   `(event, responseStream, context)` instead of `(event, context)`.
// - src/HttpResponseStream.js: `HttpResponseStream.from(stream, prelude)` sets the content type
//   `application/vnd.awslambda.http-integration-response` and, just before the first write, writes the
//   prelude as JSON followed by 8 NUL bytes; the Function URL service reads status, headers and cookies
//   from that prelude and sends everything after it as the body, as it comes.
// - src/ResponseStream.js: the response stream is a Writable whose content type can be set until the first
//   write (default `application/octet-stream`).
import { PassThrough, type TransformCallback } from 'node:stream';

const HANDLER_STREAMING = Symbol.for('aws.lambda.runtime.handler.streaming');
const STREAM_RESPONSE = 'response';
export const PRELUDE_CONTENT_TYPE = 'application/vnd.awslambda.http-integration-response';
export const DELIMITER_LEN = 8;
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

type Write = (chunk: string | Uint8Array) => void;

/** The stream a streaming handler writes to; the emulator reads the bytes the Function URL service would. */
export class ResponseStream extends PassThrough {
  #contentType = DEFAULT_CONTENT_TYPE;
  #written = false;
  _onBeforeFirstWrite?: (write: Write) => void;

  get contentType(): string {
    return this.#contentType;
  }

  setContentType(contentType: string): void {
    if (this.#written) throw new Error('Cannot set content-type, too late.');
    this.#contentType = contentType;
  }

  override _transform(chunk: unknown, encoding: BufferEncoding, callback: TransformCallback): void {
    if (!this.#written) {
      this.#written = true;
      this._onBeforeFirstWrite?.((ch) => this.push(ch));
    }
    super._transform(chunk, encoding, callback);
  }
}

export type StreamingHandler<TEvent, TContext> = ((
  event: TEvent,
  responseStream: ResponseStream,
  context: TContext,
) => Promise<void>) & { [HANDLER_STREAMING]?: string };

/** Whether the runtime would call this handler in streaming mode. */
export function isStreamingHandler(handler: object): boolean {
  return (handler as Record<symbol, unknown>)[HANDLER_STREAMING] === STREAM_RESPONSE;
}

class HttpResponseStream {
  static from(underlying: ResponseStream, prelude: Record<string, unknown>): ResponseStream {
    underlying.setContentType(PRELUDE_CONTENT_TYPE);
    // JSON.stringify never writes a raw NUL byte, so the delimiter cannot occur inside the prelude.
    const metadataPrelude = JSON.stringify(prelude);
    underlying._onBeforeFirstWrite = (write) => {
      write(metadataPrelude);
      write(new Uint8Array(DELIMITER_LEN));
    };
    return underlying;
  }
}

function streamifyResponse<T extends object>(handler: T): T {
  (handler as Record<symbol, unknown>)[HANDLER_STREAMING] = STREAM_RESPONSE;
  return handler;
}

/**
 * Installs the runtime's members of the global (as the runtime does before it loads the function) where
 * nothing provides them yet. The global itself may already exist: the AWS SDK and Powertools create an
 * `awslambda` object of their own (for `InvokeStore`), which keeps what it holds.
 */
export function installAwsLambdaGlobal(): void {
  const global = globalThis as { awslambda?: Record<string, unknown> };
  global.awslambda ??= {};
  global.awslambda.HttpResponseStream ??= HttpResponseStream;
  global.awslambda.streamifyResponse ??= streamifyResponse;
}
