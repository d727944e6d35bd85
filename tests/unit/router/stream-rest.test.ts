// Streamed routing after the first piece: failures thrown once and counted, the deadline, the caller leaving.
import { describe, expect, it } from 'vitest';
import { CLIENT_CLOSED } from '../../../functions/complete/router/router.ts';
import { END, piece, said, scriptedRouter, T0, type Beat } from './scripted-router.ts';

/** `a` is picked before `b` unless it failed recently (shuffle at random 0), and any failure cools it down. */
const FIRST_UNLESS_FAILED = { settings: { allowed_fails: 0, routing_strategy: 'simple-shuffle' as const }, random: 0 };
const MID_STREAM_500: Beat[] = [piece('par'), piece('tial'), { fail: { kind: 'retryable', status: 500 } }];

describe('a failure after the first piece', () => {
  it('is thrown once, after the pieces that came, and not retried', async () => {
    const r = scriptedRouter({}, { streams: { 'openai/solo': [MID_STREAM_500] } });
    const result = await r.routeStream('solo');
    const { pieces, error } = await r.readRest(result);
    expect(r.textOf(pieces)).toBe('partial');
    expect(error?.info).toMatchObject({ kind: 'retryable', status: 500 });
    expect(r.streamsTo('openai/solo')).toBe(1);
    const iterator = result.ok ? result.rest[Symbol.asyncIterator]() : undefined;
    expect(await iterator?.next()).toEqual({ done: true, value: undefined });
  });

  it('counts against the deployment: toward allowed_fails', async () => {
    const r = scriptedRouter({}, { settings: { allowed_fails: 0 }, streams: { 'openai/solo': [MID_STREAM_500] } });
    await r.readRest(await r.routeStream('solo'));
    expect(r.health('openai/solo').available).toBe(false);
  });

  it('counts against the deployment: it ranks after the others for the next 60 s', async () => {
    const r = scriptedRouter({}, { ...FIRST_UNLESS_FAILED, streams: { 'openai/a': [MID_STREAM_500] } });
    await r.readRest(await r.routeStream('pair'));
    const next = await r.routeStream('pair');
    expect(next.ok && next.deployment.id).toBe('openai/b');
    expect(await r.answeredBy('pair')).toBe('openai/b');
  });

  it('counts a stream that stops without its end piece the same way', async () => {
    const r = scriptedRouter(
      {},
      { settings: { allowed_fails: 0 }, streams: { 'openai/solo': [[piece('cut'), 'stop']] } },
    );
    const { error } = await r.readRest(await r.routeStream('solo'));
    expect(error?.info.code).toBe('stream_incomplete');
    expect(r.health('openai/solo').available).toBe(false);
  });
});

describe('a stream that ends normally counts as a success of its deployment', () => {
  it('gives every piece, then ends, and keeps the deployment first', async () => {
    const r = scriptedRouter({}, FIRST_UNLESS_FAILED);
    const { pieces, error } = await r.readRest(await r.routeStream('pair'));
    expect(error).toBeUndefined();
    expect(pieces).toEqual([piece('ok'), END]);
    expect(r.streamCalls[0]).toMatchObject({ returned: true, signal: { aborted: false } }); // finished, not cut
    const next = await r.routeStream('pair');
    expect(next.ok && next.deployment.id).toBe('openai/a');
  });
});

describe('the request’s deadline bounds the whole stream', () => {
  it('ends the rest with a timeout at the deadline, aborts the provider call, and counts it', async () => {
    const r = scriptedRouter(
      {},
      { settings: { allowed_fails: 0 }, streams: { 'openai/solo': [[{ waitMs: 500 }, piece('one'), 'hang']] } },
    );
    const result = await r.routeStream('solo', 3_000);
    const { pieces, error } = await r.readRest(result);
    expect(r.textOf(pieces)).toBe('one');
    expect(error?.info).toMatchObject({ kind: 'retryable', timeout: true });
    expect(r.clock.now).toBe(T0 + 3_000);
    expect(r.streamCalls[0]!.signal.aborted).toBe(true);
    expect(r.health('openai/solo').available).toBe(false);
  });

  it('also when nobody was reading as the deadline passed', async () => {
    const r = scriptedRouter(
      {},
      { settings: { allowed_fails: 0 }, streams: { 'openai/solo': [[piece('one'), 'hang']] } },
    );
    const result = await r.routeStream('solo', 3_000);
    await r.run(new Promise((resolve) => r.after(5_000, () => resolve(undefined))));
    expect(r.streamCalls[0]!.signal.aborted).toBe(true);
    expect(r.health('openai/solo').available).toBe(false);
    const { error } = await r.readRest(result);
    expect(error?.info.timeout).toBe(true);
  });

  it('past a deployment timeout shorter than the stream: that timeout bounds only the first piece', async () => {
    const r = scriptedRouter(
      {},
      {
        modelList: [{ model_name: 'solo', litellm_params: { model: 'openai/solo', timeout: 1 } }],
        streams: { 'openai/solo': [[piece('a'), { waitMs: 5_000 }, piece('b'), END]] },
      },
    );
    const { pieces, error } = await r.readRest(await r.routeStream('solo', 10_000));
    expect(error).toBeUndefined();
    expect(r.textOf(pieces)).toBe('ab');
  });
});

describe('the caller’s signal aborts the running provider call at once and counts nothing', () => {
  it('after the first piece: the provider call is aborted, the rest throws client_closed', async () => {
    const r = scriptedRouter({}, { ...FIRST_UNLESS_FAILED, streams: { 'openai/a': [[piece('x'), 'hang']] } });
    const caller = new AbortController();
    const result = await r.routeStream('pair', 60_000, caller.signal);
    caller.abort();
    expect(r.streamCalls[0]!.signal.aborted).toBe(true);
    const { error } = await r.readRest(result);
    expect(error?.info.code).toBe(CLIENT_CLOSED);
    expect(r.health('openai/a').available).toBe(true);
    const next = await r.routeStream('pair'); // not ranked last either
    expect(next.ok && next.deployment.id).toBe('openai/a');
  });

  it('before the first piece: nothing more is attempted and the deployment is not counted', async () => {
    const r = scriptedRouter({}, { ...FIRST_UNLESS_FAILED, streams: { 'openai/a': [['hang']] } });
    const caller = new AbortController();
    r.after(1_000, () => caller.abort());
    const result = await r.routeStream('pair', 60_000, caller.signal);
    expect(result.ok).toBe(false);
    expect(result.attempts.map((a) => [a.deployment, a.outcome])).toEqual([['openai/a', 'cancelled']]);
    expect(r.clock.now).toBe(T0 + 1_000);
    expect(r.streamCalls.map((c) => [c.deployment, c.signal.aborted])).toEqual([['openai/a', true]]);
    expect(r.health('openai/a').available).toBe(true);
    const next = await r.routeStream('pair');
    expect(next.ok && next.deployment.id).toBe('openai/a');
  });
});

describe('breaking out of the rest closes the provider call and counts nothing', () => {
  it('aborts the call; the deployment keeps its rank', async () => {
    const r = scriptedRouter({}, { ...FIRST_UNLESS_FAILED, streams: { 'openai/a': [said('a', 'b', 'c')] } });
    const result = await r.routeStream('pair');
    for await (const p of result.ok ? result.rest : []) {
      expect(p).toEqual(piece('b'));
      break;
    }
    expect(r.streamCalls[0]!.signal.aborted).toBe(true);
    expect(r.streamCalls[0]!.returned).toBe(true);
    expect(r.health('openai/a').available).toBe(true);
    const next = await r.routeStream('pair');
    expect(next.ok && next.deployment.id).toBe('openai/a');
  });
});

describe('a stream is a call in flight until it ends', () => {
  it('least-busy sends the next streamed request elsewhere while one streams, and back once that one ended', async () => {
    const r = scriptedRouter({}, { settings: { routing_strategy: 'least-busy' } });
    const first = await r.routeStream('pair');
    const second = await r.routeStream('pair');
    expect([first, second].map((x) => x.ok && x.deployment.id)).toEqual(['openai/a', 'openai/b']);
    await r.readRest(second); // b's ended, a's still streams
    const third = await r.routeStream('pair');
    expect(third.ok && third.deployment.id).toBe('openai/b');
  });
});
