// The local Function URL emulator: what a real HTTP request becomes as a payload-2.0 event, and how the
// handler's result (or failure) goes back, buffered or streamed, over a real socket on a random loopback port.
import { request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { streamingEntry, type CompleteHandler } from '../../functions/complete/app.ts';
import { installAwsLambdaGlobal } from '../../local/awslambda-global.ts';
import { serveFunctionUrl } from '../../local/function-url.ts';

let seen: { event: APIGatewayProxyEventV2; context: Context }[] = [];
let reply: (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2> = async () => ({
  statusCode: 204,
});
const server = serveFunctionUrl(
  async (event, context) => {
    seen.push({ event, context });
    return reply(event);
  },
  { functionName: 'complete', timeoutMs: 120_000 },
);
let port: number;
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function send(method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}) {
  seen = [];
  return new Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('Function URL emulator: request → event', () => {
  it('hands over the path and query raw, repeated keys joined with commas, cookies apart', async () => {
    await send('GET', '/health/?a=1&b=x%20y&a=2', undefined, { cookie: 'k=v; other=w', 'user-agent': 'test-agent' });
    const { event, context } = seen[0]!;
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/health/',
      rawQueryString: 'a=1&b=x%20y&a=2',
      queryStringParameters: { a: '1,2', b: 'x y' },
      cookies: ['k=v', 'other=w'],
      isBase64Encoded: false,
    });
    expect(event.headers.cookie).toBeUndefined();
    expect(event.requestContext.http).toMatchObject({
      method: 'GET',
      path: '/health/',
      protocol: 'HTTP/1.1',
      userAgent: 'test-agent',
    });
    expect(event.requestContext.requestId).toBe(context.awsRequestId);
    expect(event.requestContext.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(Math.abs(event.requestContext.timeEpoch - Date.now())).toBeLessThan(60_000);
    expect(event.body).toBeUndefined();
    expect(context.getRemainingTimeInMillis()).toBeGreaterThan(100_000);
    expect(context.getRemainingTimeInMillis()).toBeLessThanOrEqual(120_000);
  });

  it('does not resolve hostile paths: dot segments and a double slash stay as sent', async () => {
    await send('GET', '/a/../complete');
    expect(seen[0]!.event.rawPath).toBe('/a/../complete');
    await send('GET', '//complete');
    expect(seen[0]!.event.rawPath).toBe('//complete');
    expect(seen[0]!.event.queryStringParameters).toBeUndefined();
    await send('GET', 'http://elsewhere.example/complete?x=1'); // absolute-form, as sent to a proxy
    expect(seen[0]!.event).toMatchObject({ rawPath: '/complete', rawQueryString: 'x=1' });
  });

  it('passes JSON as text and binary bodies as base64', async () => {
    await send('POST', '/complete', '{"model":"fast"}', { 'content-type': 'application/json' });
    expect(seen[0]!.event).toMatchObject({ body: '{"model":"fast"}', isBase64Encoded: false });
    const bytes = Buffer.from([0, 255, 1, 254]);
    await send('POST', '/complete', bytes, { 'content-type': 'application/octet-stream' });
    expect(seen[0]!.event).toMatchObject({ body: bytes.toString('base64'), isBase64Encoded: true });
  });

  it('refuses a body over 6 MB with 413 before the function runs', async () => {
    const res = await send('POST', '/complete', Buffer.alloc(6 * 1024 * 1024 + 1, 0x61), {
      'content-type': 'application/json',
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body.toString()).error).toMatch(/6 MB/);
    expect(seen).toHaveLength(0);
  });
});

describe('Function URL emulator: result → response', () => {
  it('sends status, headers and a base64 body decoded', async () => {
    reply = async () => ({
      statusCode: 201,
      headers: { 'x-test': 'yes' },
      body: Buffer.from('raw bytes').toString('base64'),
      isBase64Encoded: true,
    });
    const res = await send('GET', '/x');
    expect(res.status).toBe(201);
    expect(res.headers['x-test']).toBe('yes');
    expect(res.body.toString()).toBe('raw bytes');
  });

  it('answers 502 without detail when the function throws', async () => {
    reply = async () => {
      throw new Error('internal detail sk-secret');
    };
    const res = await send('GET', '/x');
    expect(res.status).toBe(502);
    expect(res.body.toString()).not.toContain('sk-secret');
    expect(res.headers['x-request-id']).toBe(seen[0]!.context.awsRequestId);
  });
});

describe('Function URL emulator: a streaming handler (invoke mode RESPONSE_STREAM)', () => {
  installAwsLambdaGlobal();
  let streamServer: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((resolve) => (streamServer ? streamServer.close(() => resolve()) : resolve()));
    streamServer = undefined;
  });

  /** The real streaming entry around a core the test answers for, behind the emulator. */
  async function serveEntry(core: CompleteHandler) {
    streamServer = serveFunctionUrl(streamingEntry(core), { functionName: 'complete', timeoutMs: 120_000 });
    await new Promise<void>((resolve) => streamServer!.listen(0, '127.0.0.1', resolve));
    return (streamServer.address() as AddressInfo).port;
  }

  function open(streamPort: number, path = '/x') {
    return new Promise<IncomingMessage>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: streamPort, method: 'GET', path }, resolve);
      req.on('error', reject);
      req.end();
    });
  }

  it('sends a buffered answer with its exact status, headers and body through the prelude', async () => {
    const streamPort = await serveEntry(async () => ({
      statusCode: 405,
      headers: { 'content-type': 'application/json', allow: 'POST', 'x-request-id': 'r-1' },
      body: '{"error":"no"}',
    }));
    const res = await open(streamPort);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    expect(res.statusCode).toBe(405);
    expect(res.headers).toMatchObject({ 'content-type': 'application/json', allow: 'POST', 'x-request-id': 'r-1' });
    expect(Buffer.concat(chunks).toString()).toBe('{"error":"no"}');
  });

  it('delivers each piece of a streamed body to the client before the handler has finished', async () => {
    const body = new PassThrough();
    let finished = false;
    const streamPort = await serveEntry(async () => ({
      statusCode: 200,
      headers: { 'content-type': 'text/event-stream' },
      stream: body.on('end', () => (finished = true)),
    }));
    // As in Lambda, the prelude (status and headers) goes out with the first bytes of the body.
    const responding = open(streamPort);
    body.write('data: one\n\n');
    const res = await responding;
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/event-stream');
    const next = () => new Promise<string>((resolve) => res.once('data', (c: Buffer) => resolve(c.toString())));
    const received = [await next()];
    expect(finished).toBe(false);
    const arriving = next();
    body.write('data: two\n\n');
    received.push(await arriving);
    expect(finished).toBe(false);
    const ended = new Promise((resolve) => res.once('end', resolve));
    res.resume();
    body.end();
    await ended;
    expect(finished).toBe(true);
    expect(received).toEqual(['data: one\n\n', 'data: two\n\n']);
  });

  it('destroys the streamed body when the client goes away, so the function sees it at once', async () => {
    const body = new PassThrough();
    const closed = new Promise<void>((resolve) => body.once('close', resolve));
    const streamPort = await serveEntry(async () => ({ statusCode: 200, headers: {}, stream: body }));
    const responding = open(streamPort);
    body.write('data: one\n\n');
    const res = await responding;
    await new Promise((resolve) => res.once('data', resolve));
    res.destroy();
    await closed;
    expect(body.destroyed).toBe(true);
  });

  it('answers 502 without detail when the function fails before its first byte', async () => {
    const streamPort = await serveEntry(async () => {
      throw new Error('internal detail sk-secret');
    });
    const res = await open(streamPort);
    const chunks: Buffer[] = [];
    for await (const chunk of res) chunks.push(chunk as Buffer);
    expect(res.statusCode).toBe(502);
    expect(Buffer.concat(chunks).toString()).not.toContain('sk-secret');
  });
});
