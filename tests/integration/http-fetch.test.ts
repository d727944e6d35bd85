// The providers' HTTP layer under faults: it settles in every state, reports cut-off and oversized bodies at once,
// and never holds more than MAX_RESPONSE_BYTES of an answer.
import dc from 'node:diagnostics_channel';
import { getEventListeners } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { httpFetch, MAX_RESPONSE_BYTES, ResponseBodyError } from '../../functions/complete/providers/http-fetch.ts';
import { FakeProvider } from '../fakes/provider-server.ts';
import type { Encoding } from '../fakes/response-body.ts';
import { settlesWithin } from '../helpers/settles-within.ts';

const fake = new FakeProvider('openai');
beforeAll(() => fake.start());
afterAll(() => fake.stop());
afterEach(() => fake.reset());

/** A chat completion request to the fake, as the OpenAI SDK would send it. */
function post(signal?: AbortSignal): Promise<Response> {
  return httpFetch(`${fake.url}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }),
    signal,
  });
}

/** Calls `onChunk(n)` for the n-th body chunk (1-based) of every response the process receives while `fn` runs. */
async function onResponseChunks<T>(onChunk: (n: number) => void, fn: () => Promise<T>): Promise<T> {
  const listener = (message: unknown) => {
    let n = 0;
    (message as { response: IncomingMessage }).response.on('data', () => onChunk(++n));
  };
  dc.subscribe('http.client.response.finish', listener);
  try {
    return await fn();
  } finally {
    dc.unsubscribe('http.client.response.finish', listener);
  }
}

/** The most the memory held in Buffers grew above its level at the start while `fn` ran (sampled every millisecond). */
async function bufferGrowthDuring<T>(fn: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const start = process.memoryUsage().arrayBuffers;
  let peak = start;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().arrayBuffers));
  const timer = setInterval(sample, 1);
  try {
    const result = await fn();
    sample();
    return { result, growth: peak - start };
  } finally {
    clearInterval(timer);
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return settlesWithin(promise, 10_000).then(
    () => expect.fail('the fetch answered'),
    (err: unknown) => err,
  );
}

describe('abort settles the fetch in every state', () => {
  it('rejects at once when the signal is already aborted, sending nothing', async () => {
    const err = await rejection(post(AbortSignal.abort()));
    expect(err).toMatchObject({ name: 'AbortError' });
    expect(fake.count).toBe(0);
  });

  it('rejects when aborted before the response headers', async () => {
    fake.next({ hang: true });
    const controller = new AbortController();
    const pending = post(controller.signal);
    await expect.poll(() => fake.count).toBe(1);
    controller.abort();
    expect(await rejection(pending)).toMatchObject({ name: 'AbortError' });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it.each<[string, Encoding | undefined]>([
    ['a plain body', undefined],
    ['a gzip body, with the decoder holding part of it', 'gzip'],
    ['a brotli body, with the decoder holding part of it', 'br'],
  ])('rejects when aborted while reading %s, and closes the connection', async (_name, encoding) => {
    fake.next({ encoding, trickle: { bytes: 8, everyMs: 20 } });
    const controller = new AbortController();
    // The second chunk: by then the first is in the decoder.
    const err = await onResponseChunks(
      (n) => n === 2 && controller.abort(new Error('attempt timed out')),
      () => rejection(post(controller.signal)),
    );
    expect(err).toMatchObject({ message: 'attempt timed out' });
    await settlesWithin(fake.deliveries[0]!.ended, 10_000);
    expect(fake.deliveries[0]!.complete).toBe(false);
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });

  it('answers a trickling body when nothing aborts it, and leaves no abort listener behind', async () => {
    fake.next({ encoding: 'gzip', trickle: { bytes: 64, everyMs: 1 } });
    const controller = new AbortController();
    const res = await settlesWithin(post(controller.signal), 10_000);
    expect(((await res.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe(
      'answer from openai',
    );
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
    controller.abort(); // after the answer: nothing to settle, nothing thrown
  });
});

describe('a body cut off mid-way is a failure reported at once', () => {
  it.each<[string, Encoding | undefined]>([
    ['plain', undefined],
    ['gzip', 'gzip'],
    ['deflate', 'deflate'],
    ['brotli', 'br'],
  ])('rejects a %s body that ends before its content-length (no signal needed)', async (_name, encoding) => {
    fake.next({ encoding, cutAfter: 40 });
    const err = await rejection(post());
    expect(err).toBeInstanceOf(ResponseBodyError);
    expect(err).toMatchObject({ code: 'response_incomplete' });
  });

  it('rejects a gzip body that is not gzip', async () => {
    fake.next({ headers: { 'content-encoding': 'gzip' } }); // plain JSON announced as gzip
    expect(await rejection(post())).toMatchObject({ code: 'response_incomplete' });
  });
});

describe('a body over MAX_RESPONSE_BYTES is abandoned without being read', () => {
  it('answers a body just under the limit in full', async () => {
    fake.next({ padBytes: MAX_RESPONSE_BYTES - 1024 });
    const res = await settlesWithin(post(), 20_000);
    expect((await res.text()).length).toBeGreaterThan(MAX_RESPONSE_BYTES - 1024);
  });

  it('stops reading a 64 MB chunked answer: the server cannot send it all', async () => {
    // Far past the limit plus what loopback socket buffers can hold (several MB each way), so the server
    // cannot finish even when the client is slow to stop under load.
    const size = 64 * 1024 * 1024;
    fake.next({ padBytes: size });
    expect(await rejection(post())).toMatchObject({ code: 'response_too_large' });
    const delivery = fake.deliveries[0]!;
    await settlesWithin(delivery.ended, 10_000);
    expect(delivery.complete).toBe(false);
    expect(delivery.bytes).toBeLessThan(size);
  });

  it('refuses an answer whose content-length announces more than the limit', async () => {
    fake.next({ content: 'x'.repeat(MAX_RESPONSE_BYTES + 1) });
    expect(await rejection(post())).toMatchObject({ code: 'response_too_large' });
  });

  it.each<[string, Encoding]>([
    ['gzip', 'gzip'],
    ['brotli', 'br'],
  ])('stops decoding a %s bomb (256 MiB of content) with bounded memory', async (_name, encoding) => {
    const decoded = 256 * 1024 * 1024;
    fake.next({ encoding, padBytes: decoded });
    const { result, growth } = await bufferGrowthDuring(() => rejection(post()));
    expect(result).toMatchObject({ code: 'response_too_large' });
    // Holding the decoded answer would take at least `decoded` bytes; the limit keeps it near 8 MiB.
    expect(growth).toBeLessThan(decoded / 4);
  });
});
