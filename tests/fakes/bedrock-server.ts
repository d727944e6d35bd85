// A local fake of Amazon Bedrock's Converse and ConverseStream APIs (`POST /model/{modelId}/converse`,
// `…/converse-stream`, streamed in bedrock-stream.ts), so tests drive the real AWS SDK.
//
// Wire format, as AWS documents it (Bedrock API reference, "Converse" and "Troubleshooting Amazon Bedrock API
// error codes") and as the SDK's own model reads it (@aws-sdk/client-bedrock-runtime: the `ConverseResponse`
// type, and each exception's `httpError` status in its schema):
// - answer: 200 JSON `{ output: { message: { role, content: [{ text }] } }, stopReason, usage: { inputTokens,
//   outputTokens, totalTokens }, metrics: { latencyMs } }`, request id in `x-amzn-RequestId`;
// - error: the type in `x-amzn-ErrorType`, the body `{ "message": … }`, with the status AWS gives that type:
//   400 ValidationException / ServiceQuotaExceededException, 403 AccessDeniedException (and the signature
//   errors UnrecognizedClientException, ExpiredTokenException…), 404 ResourceNotFoundException, 408
//   ModelTimeoutException, 424 ModelErrorException, 429 ThrottlingException / ModelNotReadyException, 500
//   InternalServerException, 503 ServiceUnavailableException. A status AWS names no type for (401, 422, 529)
//   goes out without one, as a proxy in front of Bedrock would send it.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { ConverseResponse } from '@aws-sdk/client-bedrock-runtime';
import { writeConverseStream } from './bedrock-stream.ts';
import { PROVIDER_ERROR_TEXT, type Behaviour, type RecordedRequest } from './provider-server.ts';
import type { StreamDelivery } from './provider-stream.ts';
import { needsShaping, PAD_MARKER, writeShapedBody } from './response-body.ts';

/** The AWS error type each status carries unless a behaviour names one (`errorCode`). */
const ERROR_TYPES: Record<number, string> = {
  400: 'ValidationException',
  403: 'AccessDeniedException',
  404: 'ResourceNotFoundException',
  408: 'ModelTimeoutException',
  424: 'ModelErrorException',
  429: 'ThrottlingException',
  500: 'InternalServerException',
  503: 'ServiceUnavailableException',
};

/** The status AWS sends each error type with, for behaviours that name a type without a status. */
export const BEDROCK_ERROR_STATUS: Record<string, number> = {
  ValidationException: 400,
  ServiceQuotaExceededException: 400,
  AccessDeniedException: 403,
  UnrecognizedClientException: 403,
  ExpiredTokenException: 403,
  ResourceNotFoundException: 404,
  ModelTimeoutException: 408,
  ModelErrorException: 424,
  ThrottlingException: 429,
  ModelNotReadyException: 429,
  InternalServerException: 500,
  ServiceUnavailableException: 503,
};

const CONVERSE_PATH = /^\/model\/([^/]+)\/converse(-stream)?$/;

/** A recorded Converse request: `modelId` is the path's, decoded (Bedrock names the model in the path, not the body). */
export interface BedrockRequest extends RecordedRequest {
  modelId: string;
  /** It went to ConverseStream. */
  streamed: boolean;
}

export class FakeBedrock {
  readonly requests: BedrockRequest[] = [];
  /** How each streamed answer went out, in order. */
  readonly streams: StreamDelivery[] = [];
  private queue: Behaviour[] = [];
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly waiting: { count: number; resolve: () => void }[] = [];
  private port = 0;
  /** Bedrock signs with SigV4, it takes no key: kept so the contract can treat every fake alike; never set. */
  expectedKey: string | undefined;

  /** The endpoint to give the SDK (`api_base`, or `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`). */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get count(): number {
    return this.requests.length;
  }

  next(...behaviours: Behaviour[]): this {
    this.queue.push(...behaviours);
    return this;
  }

  reset(): void {
    this.queue = [];
    this.requests.length = 0;
    this.streams.length = 0;
  }

  received(count = this.count + 1): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push({ count, resolve }));
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) => {
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', resolve);
    });
    const route = CONVERSE_PATH.exec(req.url ?? '');
    if (req.method !== 'POST' || !route) {
      return this.error(res, 404, 'UnknownOperationException', `fake bedrock has no ${req.method} ${req.url}`);
    }
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return this.error(res, 400, 'SerializationException', 'fake: body is not JSON');
    }
    const streamed = route[2] !== undefined;
    this.requests.push({
      path: req.url!,
      headers: req.headers,
      body,
      modelId: decodeURIComponent(route[1]!),
      streamed,
    });
    for (const w of this.waiting.filter((w) => this.requests.length >= w.count)) {
      this.waiting.splice(this.waiting.indexOf(w), 1);
      w.resolve();
    }
    const b = this.queue.shift() ?? {};
    if (b.hang) return; // the socket stays open until the client aborts or the fake stops
    if (b.delayMs) await new Promise((r) => setTimeout(r, b.delayMs));
    if (b.reset) return void req.socket.destroy();
    const status = b.status ?? (b.errorCode ? BEDROCK_ERROR_STATUS[b.errorCode] : undefined) ?? 200;
    const message = `${b.errorMessage ? `${b.errorMessage} ` : ''}${PROVIDER_ERROR_TEXT} (status ${status})`;
    if (status !== 200) return this.error(res, status, b.errorCode ?? ERROR_TYPES[status], message, b.headers);
    // An error object where the answer should be: what a misrouted proxy or a broken gateway sends.
    if (b.errorIn200) return this.send(res, 200, { message, __type: 'InternalServerException' }, b.headers);
    if (b.notJson) {
      const html = b.notJson === 'html';
      res.writeHead(200, this.headersFor({ 'content-type': html ? 'text/html' : 'application/json', ...b.headers }));
      return void res.end(
        html
          ? `<html><body>502 Bad Gateway ${PROVIDER_ERROR_TEXT}</body></html>`
          : `{"output": "${PROVIDER_ERROR_TEXT}`,
      );
    }
    if (streamed) return void this.streams.push(this.stream(req, res, b, message));
    if (needsShaping(b))
      return void writeShapedBody(res, 200, this.headersFor(b.headers), JSON.stringify(this.answer(b)), b);
    return this.send(res, 200, this.answer(b), b.headers);
  }

  private stream(req: IncomingMessage, res: ServerResponse, b: Behaviour, message: string): StreamDelivery {
    const given = b.refusal ?? (b.content === undefined ? 'answer from bedrock' : b.content);
    return writeConverseStream(
      req,
      res,
      this.headersFor(b.headers),
      {
        text: given,
        usage: b.usage ?? { input: 12, output: 34 },
        stopReason: this.stopReasonOf(b),
        ...(b.padBytes !== undefined && { padBytes: b.padBytes }),
        errorMessage: message,
      },
      b.stream ?? {},
    );
  }

  private stopReasonOf(b: Behaviour): string {
    if (b.refusal !== undefined) return 'guardrail_intervened';
    return b.stopReason ?? (b.finish === 'length' ? 'max_tokens' : 'end_turn');
  }

  private headersFor(extra: Record<string, string> = {}): Record<string, string> {
    return { 'content-type': 'application/json', 'x-amzn-RequestId': `req_fake_${this.requests.length}`, ...extra };
  }

  private send(res: ServerResponse, status: number, body: unknown, headers?: Record<string, string>): void {
    res.writeHead(status, this.headersFor(headers));
    res.end(JSON.stringify(body));
  }

  private error(
    res: ServerResponse,
    status: number,
    type: string | undefined,
    message: string,
    headers?: Record<string, string>,
  ): void {
    this.send(res, status, { message }, { ...(type !== undefined && { 'x-amzn-ErrorType': type }), ...headers });
  }

  private answer(b: Behaviour): ConverseResponse {
    const given = b.refusal ?? (b.content === undefined ? 'answer from bedrock' : b.content);
    const text = given === null ? null : given + (b.padBytes !== undefined ? PAD_MARKER : '');
    const usage = b.usage ?? { input: 12, output: 34 };
    const stopReason = this.stopReasonOf(b);
    return {
      output: { message: { role: 'assistant', content: b.empty || text === null ? [] : [{ text }] } },
      stopReason: stopReason as ConverseResponse['stopReason'],
      usage: { inputTokens: usage.input, outputTokens: usage.output, totalTokens: usage.input + usage.output },
      metrics: { latencyMs: 5 },
    };
  }
}
