// A Function URL emulator: each HTTP request becomes a payload-2.0 event for the real handler.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { lambdaContext } from './lambda-context.ts';

export type FunctionUrlHandler = (
  event: APIGatewayProxyEventV2,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

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

export function serveFunctionUrl(
  handler: FunctionUrlHandler,
  options: { functionName: string; timeoutMs: number },
): Server {
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
      handler(event, lambdaContext(options.functionName, options.timeoutMs, requestId)).then(
        (result) => {
          const body = result.body ?? '';
          res.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
          res.end(result.isBase64Encoded ? Buffer.from(body, 'base64') : body);
        },
        () => {
          // Lambda answers a function error with 502 and no detail; so does the emulator.
          res.writeHead(502, { 'content-type': 'application/json', 'x-request-id': requestId });
          res.end(JSON.stringify({ error: 'The function failed; see its log for the request id.' }));
        },
      );
    });
  });
}
