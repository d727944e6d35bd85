// A lean `fetch` for the provider SDKs over node:http(s) keep-alive agents: about half the CPU of the
// built-in fetch per call (measured by `npm run bench`), which is most of the router's own cost.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { Transform } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { isStreamContentType, streamedResponse } from './streamed-body.ts';

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: Infinity, scheduling: 'lifo' });

/**
 * The most a provider's answer may hold after decoding; past it the answer is abandoned, so a huge
 * body or a gzip bomb costs at most this much memory. The raw (compressed) body has the same bound.
 */
export const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** Why a response body was abandoned; `code` is what the logs show. */
export class ResponseBodyError extends Error {
  override name = 'ResponseBodyError';
  constructor(readonly code: 'response_too_large' | 'response_incomplete') {
    super(
      code === 'response_too_large'
        ? `provider response larger than ${MAX_RESPONSE_BYTES} bytes: abandoned`
        : 'provider response cut off or not decodable',
    );
  }
}

/** The `ResponseBodyError` behind an SDK's connection error (SDKs wrap what fetch threw as `cause`). */
export function responseBodyErrorIn(err: unknown): ResponseBodyError | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof ResponseBodyError) return e;
  }
  return undefined;
}

type HeadersLike = RequestInit['headers'];

function toHeaderObject(headers: HeadersLike): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  if (headers instanceof Headers) headers.forEach((value, key) => (out[key] = value));
  else if (Array.isArray(headers))
    for (const [key, value] of headers) {
      if (key !== undefined && value !== undefined) out[key.toLowerCase()] = value;
    }
  else
    for (const [key, value] of Object.entries(headers))
      if (value !== undefined && value !== null) out[key.toLowerCase()] = String(value);
  return out;
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  return reason instanceof Error ? reason : new DOMException('This operation was aborted', 'AbortError');
}

/** The decoder for a `content-encoding`, or none for an identity body. */
function decoderFor(encoding: string | undefined): Transform | undefined {
  switch (encoding?.trim().toLowerCase()) {
    case 'gzip':
    case 'x-gzip':
      return createGunzip();
    case 'deflate':
      return createInflate();
    case 'br':
      return createBrotliDecompress();
    default:
      return undefined;
  }
}

/** Response headers, read-only, over Node's already-parsed header object (no `Headers` copy per call). */
class ResponseHeaders {
  constructor(private readonly raw: IncomingMessage['headers']) {}
  get(name: string): string | null {
    const value = this.raw[name.toLowerCase()];
    return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
  }
  has(name: string): boolean {
    return this.raw[name.toLowerCase()] !== undefined;
  }
  *entries(): IterableIterator<[string, string]> {
    for (const key of Object.keys(this.raw))
      if (key !== 'content-encoding' && key !== 'content-length') yield [key, this.get(key)!];
  }
  keys(): IterableIterator<string> {
    return Array.from(this.entries(), ([k]) => k)[Symbol.iterator]();
  }
  values(): IterableIterator<string> {
    return Array.from(this.entries(), ([, v]) => v)[Symbol.iterator]();
  }
  forEach(fn: (value: string, key: string) => void): void {
    for (const [k, v] of this.entries()) fn(v, k);
  }
  [Symbol.iterator]() {
    return this.entries();
  }
}

/**
 * The part of `Response` the SDKs use, over a body already read into memory: building a WHATWG
 * `Response` (a stream, a `Headers` copy) per call cost more CPU than the rest of this fetch.
 */
class BufferedResponse {
  readonly headers: ResponseHeaders;
  readonly ok: boolean;
  readonly redirected = false;
  readonly type = 'basic';
  bodyUsed = false;
  constructor(
    readonly url: string,
    readonly status: number,
    readonly statusText: string,
    rawHeaders: IncomingMessage['headers'],
    private readonly buffer: Buffer | null,
  ) {
    this.headers = new ResponseHeaders(rawHeaders);
    this.ok = status >= 200 && status < 300;
  }
  private stream: ReadableStream<Uint8Array> | null | undefined;
  /** Streaming readers get a real stream, made only when asked for. */
  get body(): ReadableStream<Uint8Array> | null {
    if (this.stream === undefined) {
      const bytes = this.buffer;
      this.stream = bytes && new ReadableStream({ start: (c) => (c.enqueue(new Uint8Array(bytes)), c.close()) });
    }
    return this.stream;
  }
  async text(): Promise<string> {
    this.bodyUsed = true;
    return this.buffer ? this.buffer.toString('utf8') : '';
  }
  async json(): Promise<unknown> {
    return JSON.parse(await this.text());
  }
  async arrayBuffer(): Promise<ArrayBuffer> {
    this.bodyUsed = true;
    const b = this.buffer ?? Buffer.alloc(0);
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
  }
  async blob(): Promise<Blob> {
    return new Blob([await this.arrayBuffer()]);
  }
  clone(): BufferedResponse {
    return new BufferedResponse(
      this.url,
      this.status,
      this.statusText,
      Object.fromEntries(this.headers.entries()),
      this.buffer,
    );
  }
}

/** The answer is read as it arrives (a stream), not held whole in memory. */
export function isStreamedResponse(response: Response): boolean {
  return !((response as unknown) instanceof BufferedResponse);
}

/** Where a request goes, as `node:http` wants it. */
interface Target {
  protocol: string;
  hostname: string;
  port: string | undefined;
  path: string;
  href: string;
}

/** Targets by URL string: an SDK sends every call of an endpoint to the same URL, parsed once here. */
const targets = new Map<string, Target>();
const MAX_TARGETS = 256;

function targetOf(input: string | URL | Request): Target {
  const text = typeof input === 'string' ? input : undefined;
  const known = text === undefined ? undefined : targets.get(text);
  if (known) return known;
  const url = input instanceof Request ? new URL(input.url) : input instanceof URL ? input : new URL(input);
  const target = {
    protocol: url.protocol,
    hostname: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port || undefined,
    path: url.pathname + url.search,
    href: url.href,
  };
  if (text !== undefined) {
    if (targets.size >= MAX_TARGETS) targets.clear();
    targets.set(text, target);
  }
  return target;
}

/**
 * `fetch(url, init)` for the provider SDKs; honours `init.signal`. A JSON answer is read whole before it
 * resolves; it settles exactly once in every state — on abort, on an error of the socket, the response or
 * its decoder, on a body cut off mid-way, or past MAX_RESPONSE_BYTES — and never leaves a socket with an
 * unread body in the pool. A streamed answer (asked for with `"stream":true`, or sent as server-sent
 * events or NDJSON) resolves as soon as its headers arrive, its body read as it comes (streamed-body.ts).
 */
export function httpFetch(input: string | URL | Request, init: RequestInit = {}): Promise<Response> {
  const url = targetOf(input);
  const signal = init.signal ?? undefined;
  if (signal?.aborted) return Promise.reject(abortError(signal));
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return Promise.reject(new TypeError(`provider base URL must be http: or https:, not ${url.protocol}`));
  }
  const headers = toHeaderObject(init.headers);
  headers['accept-encoding'] = 'gzip, deflate, br';
  const body = init.body;
  if (body !== undefined && body !== null && typeof body !== 'string' && !(body instanceof Uint8Array)) {
    return fetch(input, init); // a body we do not stream ourselves (e.g. multipart): the built-in fetch handles it
  }
  const secure = url.protocol === 'https:';
  const streamAsked = typeof body === 'string' && body.includes('"stream":true');
  return new Promise((resolve, reject) => {
    let settled = false;
    let response: IncomingMessage | undefined;
    let decoder: Transform | undefined;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      // Destroying the request destroys its socket: a half-read body never goes back to the pool.
      req.destroy();
      response?.destroy();
      decoder?.destroy();
      reject(err);
    };
    const onAbort = () => fail(abortError(signal!));
    const incomplete = () => fail(signal?.aborted ? abortError(signal) : new ResponseBodyError('response_incomplete'));

    const req = (secure ? httpsRequest : httpRequest)(
      {
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port,
        path: url.path,
        method: init.method ?? 'GET',
        headers,
        agent: secure ? httpsAgent : httpAgent,
      },
      (res) => {
        response = res;
        decoder = decoderFor(res.headers['content-encoding']);
        if (Number(res.headers['content-length']) > MAX_RESPONSE_BYTES)
          return fail(new ResponseBodyError('response_too_large'));
        const status = res.statusCode ?? 502;
        if (
          status >= 200 &&
          status < 300 &&
          status !== 204 &&
          (streamAsked || isStreamContentType(res.headers['content-type']))
        ) {
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          return resolve(
            streamedResponse({
              req,
              res,
              decoder,
              signal,
              abortError: () => abortError(signal!),
              cutError: () => new ResponseBodyError('response_incomplete'),
              tooLargeError: () => new ResponseBodyError('response_too_large'),
            }),
          );
        }
        const chunks: Buffer[] = [];
        let rawBytes = 0;
        let bytes = 0;
        res.on('error', incomplete);
        // A socket closed before the last byte ends the response without 'end' (and without 'error'
        // when nothing listens for it): either way the body is cut off.
        res.on('close', () => {
          if (!res.complete) incomplete();
        });
        const stream: NodeJS.ReadableStream = decoder ? res.pipe(decoder) : res;
        if (decoder) {
          decoder.on('error', incomplete);
          res.on('data', (chunk: Buffer) => {
            rawBytes += chunk.length;
            if (rawBytes > MAX_RESPONSE_BYTES) fail(new ResponseBodyError('response_too_large'));
          });
        }
        stream.on('data', (chunk: Buffer) => {
          if (settled) return;
          bytes += chunk.length;
          if (bytes > MAX_RESPONSE_BYTES) return fail(new ResponseBodyError('response_too_large'));
          chunks.push(chunk);
        });
        stream.on('end', () => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          const nullBody = status === 204 || status === 304 || init.method === 'HEAD';
          resolve(
            new BufferedResponse(
              url.href,
              status,
              res.statusMessage ?? '',
              res.headers,
              nullBody ? null : Buffer.concat(chunks),
            ) as unknown as Response,
          );
        });
      },
    );
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', (err) => fail(signal?.aborted ? abortError(signal) : err));
    req.end(body ?? undefined);
  });
}
