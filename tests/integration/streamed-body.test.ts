// The providers' HTTP layer for streamed answers: handed over at the headers, read as it arrives (decoded when
// compressed), each message bounded, and its connection closed when the reader cancels.
import { createServer, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createGzip } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpFetch, ResponseBodyError } from '../../functions/complete/providers/http-fetch.ts';
import { MAX_STREAM_MESSAGE_BYTES } from '../../functions/complete/providers/streamed-body.ts';

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

/**
 * Opens a streamed call and answers it with headers only (by default gzip-encoded server-sent events): the
 * body is the test's to write. `request` is the JSON body sent (by default one that asks for a stream).
 */
async function open(
  headers: Record<string, string> = { 'content-type': 'text/event-stream', 'content-encoding': 'gzip' },
  request: object = { model: 'm', stream: true },
): Promise<{ response: Response; res: ServerResponse; socket: Socket }> {
  const served = new Promise<{ res: ServerResponse; socket: Socket }>(
    (resolve) => (next = (res, socket) => resolve({ res, socket })),
  );
  const fetched = httpFetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(request),
  });
  const { res, socket } = await served;
  res.writeHead(200, headers);
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

describe("an AWS event-stream answer (Bedrock's ConverseStream)", () => {
  const EVENT_STREAM = { 'content-type': 'application/vnd.amazon.eventstream' };
  /** A frame's bytes as far as the bound reads them: its total length first, then anything. */
  const frame = (length: number) => {
    const bytes = Buffer.alloc(length, 0x61);
    bytes.writeUInt32BE(length, 0);
    return bytes;
  };
  /** Writes `bytes` in pieces cut at `cuts`, each flushed on its own. */
  const writeCut = async (res: ServerResponse, bytes: Buffer, cuts: number[]) => {
    let from = 0;
    for (const to of [...cuts, bytes.length]) {
      res.write(bytes.subarray(from, to));
      from = to;
      await new Promise((resolve) => setImmediate(resolve));
    }
  };

  it('is handed over at its headers, by its content type alone, and read as it arrives', async () => {
    // Converse's request says nothing of streaming: only the answer's content type does.
    const { response, res } = await open(EVENT_STREAM, { messages: [] });
    const reader = response.body!.getReader();
    res.write(frame(20));
    expect(Buffer.from((await reader.read()).value!)).toEqual(frame(20));
    // Frames cut anywhere, their length prefix included, pass whole.
    const rest = Buffer.concat([frame(30), frame(MAX_STREAM_MESSAGE_BYTES), frame(16)]);
    await writeCut(res, rest, [2, 31, 40, 45]);
    res.end();
    let read = 0;
    for (let r = await reader.read(); !r.done; r = await reader.read()) read += r.value.length;
    expect(read).toBe(rest.length);
  });

  it('abandons a frame that announces more than the bound, its prefix cut in two, and closes the connection', async () => {
    const { response, res, socket } = await open(EVENT_STREAM, { messages: [] });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const reader = response.body!.getReader();
    const prefix = Buffer.alloc(4);
    prefix.writeUInt32BE(MAX_STREAM_MESSAGE_BYTES + 1, 0);
    await writeCut(res, Buffer.concat([frame(16), prefix]), [18]);
    // The frame before it may or may not be read first: erroring the body drops what was queued.
    const err = await (async () => {
      for (;;) if ((await reader.read()).done) return expect.unreachable('the body ended');
    })().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResponseBodyError);
    expect((err as ResponseBodyError).code).toBe('response_too_large');
    await closed;
  });
});
