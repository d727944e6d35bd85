// A Function URL emulator: each HTTP request becomes a payload-2.0 event for the real handler, whose answer goes
// back buffered (invoke mode BUFFERED) or as it comes (RESPONSE_STREAM, a handler marked by `streamifyResponse`).
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import {
  DELIMITER_LEN,
  isStreamingHandler,
  PRELUDE_CONTENT_TYPE,
  ResponseStream,
  type StreamingHandler,
} from './awslambda-global.ts';
import { lambdaContext } from './lambda-context.ts';

/** A handler in the buffered mode: its result is the whole answer. */
export type FunctionUrlHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;
type UrlStreamingHandler = StreamingHandler<APIGatewayProxyEventV2, Context>;

/** Function URLs refuse payloads over 6 MB before the function runs; so does this emulator. */
const FUNCTION_URL_MAX_PAYLOAD = 6 * 1024 * 1024;

const TEXT_TYPES = /^(text\/|application\/(json|xml|x-www-form-urlencoded|javascript)|.*\+json)/i;

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** `requestContext.time` as Function URLs write it: `12/Mar/2020:19:03:58 +0000`. */
function requestTime(epochMs: number): string {
  const d = new Date(epochMs);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

export function toFunctionUrlEvent(req: IncomingMessage, body: Buffer, requestId: string): APIGatewayProxyEventV2 {
  // The request target as sent: Function URLs hand the path and query over raw, without resolving them.
  let target = req.url ?? '/';
  if (target[0] !== '/') target = target.replace(/^[a-z][a-z\d+.-]*:\/\/[^/?]*/i, '') || '/'; // absolute-form
  const q = target.indexOf('?');
  const rawPath = q === -1 ? target : target.slice(0, q);
  const rawQueryString = q === -1 ? '' : target.slice(q + 1);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const cookies = headers.cookie?.split(/;\s*/);
  delete headers.cookie;
  const isText = TEXT_TYPES.test(headers['content-type'] ?? 'application/json');
  const now = Date.now();
  let queryStringParameters: Record<string, string> | undefined;
  if (rawQueryString) {
    queryStringParameters = {};
    for (const [key, value] of new URLSearchParams(rawQueryString)) {
      queryStringParameters[key] = queryStringParameters[key] ? `${queryStringParameters[key]},${value}` : value;
    }
  }
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    ...(cookies && { cookies }),
    headers,
    ...(queryStringParameters && { queryStringParameters }),
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName: headers.host ?? 'localhost',
      domainPrefix: 'local',
      http: {
        method: req.method ?? 'GET',
        path: rawPath,
        protocol: `HTTP/${req.httpVersion}`,
        sourceIp: req.socket.remoteAddress ?? '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: '$default',
      stage: '$default',
      time: requestTime(now),
      timeEpoch: now,
    },
    ...(body.length > 0 && { body: isText ? body.toString('utf8') : body.toString('base64') }),
    isBase64Encoded: body.length > 0 && !isText,
  };
}

/** Lambda answers a function error with 502 and no detail; so does the emulator. */
function functionFailed(res: ServerResponse, requestId: string): void {
  res.writeHead(502, { 'content-type': 'application/json', 'x-request-id': requestId });
  res.end(JSON.stringify({ error: 'The function failed; see its log for the request id.' }));
}

interface Prelude {
  statusCode?: number;
  headers?: Record<string, string>;
  cookies?: string[];
}

/**
 * Relays a streaming handler's bytes as the Function URL service does: with the HTTP-integration content
 * type, the JSON prelude up to the 8 NUL bytes gives status, headers and cookies, and the rest is the body,
 * written to the client as it comes; otherwise the bytes are a 200 body of the stream's content type.
 */
async function relayStream(stream: ResponseStream, res: ServerResponse): Promise<boolean> {
  let head: Buffer = Buffer.alloc(0);
  let started = false;
  for await (const piece of stream) {
    let chunk = piece as Buffer;
    if (!started) {
      if (stream.contentType !== PRELUDE_CONTENT_TYPE) {
        res.writeHead(200, { 'content-type': stream.contentType });
      } else {
        head = Buffer.concat([head, chunk]);
        const at = head.indexOf(Buffer.alloc(DELIMITER_LEN));
        if (at === -1) continue;
        const prelude = JSON.parse(head.subarray(0, at).toString('utf8')) as Prelude;
        res.writeHead(prelude.statusCode ?? 200, {
          ...prelude.headers,
          ...(prelude.cookies?.length && { 'set-cookie': prelude.cookies }),
        });
        chunk = head.subarray(at + DELIMITER_LEN);
      }
      started = true;
      res.flushHeaders(); // the status line goes out now, not with the first body byte
      if (chunk.length === 0) continue;
    }
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        res.once('drain', resolve);
        res.once('close', resolve);
      });
    }
  }
  if (!started) return false;
  res.end();
  return true;
}

function invokeStreaming(
  handler: UrlStreamingHandler,
  event: APIGatewayProxyEventV2,
  context: Context,
  res: ServerResponse,
): void {
  const stream = new ResponseStream();
  // Locally a client that goes away destroys the response stream, so the function sees it at once (in
  // Lambda the stream runs on: a client disconnect does not interrupt a streamed response).
  res.once('close', () => {
    if (!res.writableFinished) stream.destroy();
  });
  let failed = false;
  const fail = () => {
    failed = true;
    stream.destroy(new Error('the function failed'));
  };
  // As the runtime does, a handler that resolves without ending its stream has failed.
  handler(event, stream, context).then(() => {
    if (!stream.writableEnded) fail();
  }, fail);
  relayStream(stream, res).then(
    (sent) => {
      if (!sent && !res.headersSent) {
        if (failed) functionFailed(res, context.awsRequestId);
        else res.writeHead(200, { 'content-type': stream.contentType }).end();
      }
    },
    () => {
      // The stream failed: before the status line the caller gets the function-error answer; after it
      // the body is cut short, as a streamed response whose function fails mid-way is.
      if (!res.headersSent) functionFailed(res, context.awsRequestId);
      else res.destroy();
    },
  );
}

interface ServeOptions {
  functionName: string;
  timeoutMs: number;
}

export function serveFunctionUrl(handler: FunctionUrlHandler, options: ServeOptions): Server;
export function serveFunctionUrl(handler: UrlStreamingHandler, options: ServeOptions): Server;
export function serveFunctionUrl(handler: FunctionUrlHandler | UrlStreamingHandler, options: ServeOptions): Server {
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= FUNCTION_URL_MAX_PAYLOAD) chunks.push(chunk);
    });
    req.on('end', () => {
      const requestId = randomUUID();
      if (size > FUNCTION_URL_MAX_PAYLOAD) {
        res.writeHead(413, { 'content-type': 'application/json', 'x-request-id': requestId });
        res.end(JSON.stringify({ error: 'Request body is larger than the Function URL payload limit (6 MB).' }));
        return;
      }
      const event = toFunctionUrlEvent(req, Buffer.concat(chunks), requestId);
      const context = lambdaContext(options.functionName, options.timeoutMs, requestId);
      if (isStreamingHandler(handler)) {
        invokeStreaming(handler as UrlStreamingHandler, event, context, res);
        return;
      }
      (handler as FunctionUrlHandler)(event, context).then(
        (result) => {
          const body = result.body ?? '';
          res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
          res.end(result.isBase64Encoded ? Buffer.from(body, 'base64') : body);
        },
        () => functionFailed(res, requestId),
      );
    });
  });
}
