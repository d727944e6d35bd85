// The providers' HTTP layer for streamed answers: handed over at the headers, read as it arrives (decoded when
// compressed), and its connection closed when the reader cancels.
import { createServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpFetch } from '../../functions/complete/providers/http-fetch.ts';

/** The response the test writes to by hand, and the socket it goes out on. */
let next: (res: ServerResponse, socket: Socket) => void;
const server = createServer((req, res) => {
  req.resume();
  req.on('end', () => next(res, req.socket));
});
let url = '';
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1/chat/completions`;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((resolve) => server.close(() => resolve()));
});

/** Opens a streamed call and answers it with gzip-encoded event-stream headers only: the body is the test's to write. */
async function open(): Promise<{ response: Response; res: ServerResponse; socket: Socket }> {
  const served = new Promise<{ res: ServerResponse; socket: Socket }>(
    (resolve) => (next = (res, socket) => resolve({ res, socket })),
  );
  const fetched = httpFetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'm', stream: true }),
  });
  const { res, socket } = await served;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' });
  res.flushHeaders();
  return { response: await fetched, res, socket };
}

describe('a streamed answer', () => {
  it('is handed over at its headers and read as it arrives, decoded', async () => {
    const { response, res } = await open();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-encoding')).toBeNull();
    const gzip = createGzip();
    gzip.pipe(res);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    gzip.write('data: {"n":1}\n\n');
    gzip.flush();
    // The first event arrives while the server still holds the connection open.
    expect((await reader.read()).value).toBe('data: {"n":1}\n\n');
    gzip.end('data: [DONE]\n\n');
    let rest = '';
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest += r.value;
    expect(rest).toBe('data: [DONE]\n\n');
  });

  it('closes its connection when the reader cancels', async () => {
    const { response, res, socket } = await open();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const gzip = createGzip();
    gzip.pipe(res);
    gzip.write('data: {"n":1}\n\n');
    gzip.flush();
    const reader = response.body!.getReader();
    await reader.read();
    await reader.cancel();
    await closed;
    expect(socket.destroyed).toBe(true);
  });
});
