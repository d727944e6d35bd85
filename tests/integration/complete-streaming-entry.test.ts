// The Lambda entry in streaming mode (invoke mode RESPONSE_STREAM) behind the Function URL emulator: every
// buffered answer of `complete` reaches the client with exactly the status, headers and body the core gives.
import { request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { streamingEntry } from '../../functions/complete/app.ts';
import { installAwsLambdaGlobal } from '../../local/awslambda-global.ts';
import { serveFunctionUrl } from '../../local/function-url.ts';
import { useFakeProviders } from '../fakes/provider-server.ts';
import { completeFunction, type Reply } from '../helpers/function-url.ts';

const fakes = useFakeProviders();
let fn: ReturnType<typeof completeFunction>;
let server: Server;
let port: number;
beforeAll(async () => {
  installAwsLambdaGlobal();
  fn = completeFunction(fakes);
  server = serveFunctionUrl(streamingEntry(fn.handler), { functionName: 'complete', timeoutMs: 120_000 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** What an HTTP client receives from the entry, without the headers the HTTP server adds itself. */
function overHttp(method: string, path: string, body?: unknown): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: { 'content-type': 'application/json' } });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const headers = { ...res.headers };
        for (const added of ['date', 'connection', 'keep-alive', 'transfer-encoding']) delete headers[added];
        resolve({
          status: res.statusCode!,
          headers: headers as Record<string, string>,
          body: JSON.parse(Buffer.concat(chunks).toString()),
        });
      });
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** The request id differs per call: it is compared for presence, the rest exactly. */
function withoutRequestId(reply: Reply) {
  const { 'x-request-id': id, ...headers } = reply.headers;
  expect(id).toMatch(/^[\w-]+$/);
  return { ...reply, headers };
}

const valid = { model: 'fast', tenant_id: 'tenant-1', messages: [{ role: 'user', content: 'Hi' }] };

describe('the streaming entry keeps every buffered answer exactly', () => {
  it.each([
    ['POST /complete answered', 'POST', '/complete', valid],
    ['POST /complete 400', 'POST', '/complete', { ...valid, tenant_id: '' }],
    ['an unknown path 404', 'GET', '/nope', undefined],
    ['a wrong method 405 with Allow', 'GET', '/complete', undefined],
    ['GET /health', 'GET', '/health', undefined],
    ['GET /v1/models', 'GET', '/v1/models', undefined],
  ])('%s', async (_name, method, path, body) => {
    const direct = withoutRequestId(await fn.invoke(method, path, body));
    const streamed = withoutRequestId(await overHttp(method, path, body));
    if (path === '/complete' && direct.status === 200) {
      // Two calls: the latency differs, nothing else.
      for (const reply of [direct, streamed]) reply.body.latency_ms = 0;
    }
    expect(streamed).toEqual(direct);
  });
});
