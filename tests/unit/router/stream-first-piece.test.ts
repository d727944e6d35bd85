// Streamed routing until the first piece: failures, silences and refusals handled as `route` handles them,
// time to first token measured on the router's clock and ranking the deployments for streamed requests.
import { describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../../functions/complete/config.ts';
import type { StreamPiece } from '../../../functions/complete/providers/provider.ts';
import { END, piece, said, scriptedRouter, T0, type Beat } from './scripted-router.ts';

const attemptsOf = (result: { attempts: { deployment: string; outcome: string }[] }) =>
  result.attempts.map((a) => [a.deployment, a.outcome]);

describe('a deployment that fails before its first piece is an attempt that failed, as in route', () => {
  it('falls back to the next deployment, and the caller sees only the second one’s pieces', async () => {
    const r = scriptedRouter({}, { streams: { 'openai/a': [{ status: 500 }], 'openai/b': [said('from ', 'b')] } });
    const result = await r.routeStream('pair');
    expect(result.ok && result.deployment.id).toBe('openai/b');
    expect(attemptsOf(result)).toEqual([
      ['openai/a', 'error'],
      ['openai/b', 'ok'],
    ]);
    const { pieces, error } = await r.readRest(result);
    expect(error).toBeUndefined();
    expect(pieces).toEqual([piece('from '), piece('b'), END]);
  });

  it.each<[string, Beat[], string]>([
    [
      'an error event before any content',
      [{ waitMs: 30 }, { fail: { kind: 'retryable', code: 'overloaded' } }],
      'overloaded',
    ],
    ['a stream that ends with no content', [END], 'response_empty'],
    ['a stream that stops without its end piece', ['stop'], 'stream_incomplete'],
  ])('%s', async (_name, beats, code) => {
    const r = scriptedRouter({}, { streams: { 'openai/a': [beats] } });
    const result = await r.routeStream('pair');
    expect(result.ok && result.deployment.id).toBe('openai/b');
    expect(result.attempts[0]).toMatchObject({ deployment: 'openai/a', outcome: 'error', failure: { code } });
    expect(r.textOf((await r.readRest(result)).pieces)).toBe('ok');
  });

  it('retries the same deployment after a backoff, within 1 + num_retries attempts', async () => {
    const r = scriptedRouter({}, { streams: { 'openai/solo': [{ status: 500 }, { status: 503 }] } });
    const result = await r.routeStream('solo');
    expect(result.ok).toBe(true);
    expect(r.sleeps.map((s) => s.ms)).toEqual([50, 100]);
    expect(r.streamsTo('openai/solo')).toBe(3);

    const exhausted = scriptedRouter({}, { streams: { 'openai/solo': { status: 500 } } });
    expect((await exhausted.routeStream('solo')).ok).toBe(false);
    expect(exhausted.streamsTo('openai/solo')).toBe(3);
  });

  it('runs the fallback groups when the group fails, and the context-window ones for a request too long', async () => {
    const settings = { fallbacks: [{ pair: ['solo'] }], context_window_fallbacks: [{ solo: ['pair'] }] };
    const r = scriptedRouter({}, { settings, streams: { 'openai/a': { status: 500 }, 'openai/b': { status: 500 } } });
    const result = await r.routeStream('pair');
    expect(result.ok && [result.group, result.deployment.id]).toEqual(['solo', 'openai/solo']);

    const tooLong = scriptedRouter(
      {},
      { settings, streams: { 'openai/solo': { failure: { kind: 'rejected', status: 400, contextLength: true } } } },
    );
    const bigger = await tooLong.routeStream('solo');
    expect(bigger.ok && bigger.group).toBe('pair');
  });

  it('counts a rejection against the rejecting deployment once another deployment of the group streams', async () => {
    const r = scriptedRouter(
      {},
      { settings: { allowed_fails: 0 }, streams: { 'openai/a': [{ failure: { kind: 'rejected', status: 400 } }] } },
    );
    expect((await r.routeStream('pair')).ok).toBe(true);
    expect(r.health('openai/a').available).toBe(false);
  });

  it('cools a deployment down for every request after a 429', async () => {
    const r = scriptedRouter({}, { streams: { 'openai/a': [{ status: 429 }] } });
    expect((await r.routeStream('pair')).ok).toBe(true);
    expect(r.health('openai/a').available).toBe(false);
    expect(await r.answeredBy('pair')).toBe('openai/b');
  });
});

/** `a` with a 5 s timeout before `b`. */
const TIMED: ConfigFile['model_list'] = [
  { model_name: 'pair', litellm_params: { model: 'openai/a', timeout: 5 } },
  { model_name: 'pair', litellm_params: { model: 'openai/b' } },
];

describe('the wait for the first piece is bounded by the deployment’s timeout and the time left', () => {
  it('abandons a silent deployment after its timeout and streams from the next', async () => {
    const r = scriptedRouter({}, { modelList: TIMED, streams: { 'openai/a': ['hang'] } });
    const result = await r.routeStream('pair');
    expect(result.ok && result.deployment.id).toBe('openai/b');
    expect(attemptsOf(result)).toEqual([
      ['openai/a', 'timeout'],
      ['openai/b', 'ok'],
    ]);
    expect(r.streamCalls.map((c) => [c.deployment, c.at - T0])).toEqual([
      ['openai/a', 0],
      ['openai/b', 5_000],
    ]);
    expect(r.streamCalls[0]!.signal.aborted).toBe(true);
  });

  it('waits for a slow first piece that comes within the timeout', async () => {
    const r = scriptedRouter({}, { modelList: TIMED, streams: { 'openai/a': [[{ waitMs: 4_999 }, ...said('late')]] } });
    const result = await r.routeStream('pair');
    expect(result.ok && [result.deployment.id, result.ttftMs]).toEqual(['openai/a', 4_999]);
  });

  it('never waits past the deadline, though the deployment’s timeout is longer', async () => {
    const r = scriptedRouter({}, { streams: { 'openai/solo': ['hang'] } });
    const result = await r.routeStream('solo', 2_000);
    expect(result.ok).toBe(false);
    expect(r.clock.now).toBe(T0 + 2_000);
    expect(r.streamsTo('openai/solo')).toBe(1);
  });
});

describe('time to first token', () => {
  it('is measured on the router’s clock from the answering attempt’s start', async () => {
    const r = scriptedRouter(
      {},
      {
        streams: {
          'openai/a': [[{ waitMs: 100 }, { fail: { kind: 'retryable', status: 502 } }]],
          'openai/b': [[{ waitMs: 40 }, ...said('hi')]],
        },
      },
    );
    const result = await r.routeStream('pair');
    expect(result.ok && result.ttftMs).toBe(40);
  });

  it('ranks the deployments for streamed requests, while whole-call latency still ranks the others', async () => {
    const slowFirstPiece: Beat[] = [{ waitMs: 300 }, ...said('a')];
    const r = scriptedRouter(
      { 'openai/a': { answerAfterMs: 50 }, 'openai/b': { answerAfterMs: 500 } },
      { streams: { 'openai/a': slowFirstPiece, 'openai/b': [[{ waitMs: 100 }, ...said('b')]] } },
    );
    // Each average learns its own measure: the never-measured go first, in configuration order.
    expect(await r.answeredBy('pair')).toBe('openai/a');
    expect(await r.answeredBy('pair')).toBe('openai/b');
    const streamedBy = async () => {
      const result = await r.routeStream('pair');
      return result.ok ? result.deployment.id : undefined;
    };
    expect(await streamedBy()).toBe('openai/a');
    expect(await streamedBy()).toBe('openai/b');
    expect(await streamedBy()).toBe('openai/b'); // 100 ms to its first piece against a's 300
    expect(await r.answeredBy('pair')).toBe('openai/a'); // 50 ms a whole call against b's 500
  });

  it('of a silent deployment counts as its full timeout, so it sinks below a slower one that answers', async () => {
    const r = scriptedRouter(
      {},
      {
        modelList: TIMED,
        streams: {
          'openai/a': [[{ waitMs: 100 }, ...said('a')], ['hang'], [{ waitMs: 100 }, ...said('a')]],
          'openai/b': [{ waitMs: 1_000 }, ...said('b')],
        },
      },
    );
    const firsts: (string | undefined)[] = [];
    for (let i = 0; i < 3; i++) {
      const result = await r.routeStream('pair');
      firsts.push(result.ok ? result.attempts[0]!.deployment : undefined);
      if (i === 2) r.clock.now += 60_000; // a's timeout is no longer a recent failure: only the average ranks it
    }
    expect(firsts).toEqual(['openai/a', 'openai/b', 'openai/a']);
    const after = await r.routeStream('pair'); // a: 0.7·100 + 0.3·5000 = 1570 ms against b's 1000
    expect(after.ok && after.deployment.id).toBe('openai/b');
  });
});

const REFUSING: Beat[] = [
  { type: 'refusal', text: 'I cannot' },
  { type: 'refusal', text: ' help.' },
  { type: 'end', finishReason: 'content_filter', usage: { prompt_tokens: 1, completion_tokens: 3 } },
];
const POLICY: ConfigFile['model_list'] = ['small', 'lax'].map((group) => ({
  model_name: group,
  litellm_params: { model: `openai/${group}` },
}));

describe('a stream that begins with a refusal asks the content-policy fallbacks', () => {
  it('streams the first fallback that does not refuse, and closes the refusing stream', async () => {
    const r = scriptedRouter(
      {},
      {
        modelList: POLICY,
        settings: { content_policy_fallbacks: [{ small: ['lax'] }] },
        streams: { 'openai/small': [REFUSING] },
      },
    );
    const result = await r.routeStream('small');
    expect(result.ok && result.group).toBe('lax');
    expect(r.textOf((await r.readRest(result)).pieces)).toBe('ok');
    expect(r.streamCalls[0]!.signal.aborted).toBe(true);
  });

  it('keeps the refusing stream open meanwhile: it is the answer, whole, when every fallback fails', async () => {
    const r = scriptedRouter(
      {},
      {
        modelList: POLICY,
        settings: { content_policy_fallbacks: [{ small: ['lax'] }] },
        streams: { 'openai/small': [REFUSING], 'openai/lax': { status: 500 } },
      },
    );
    const result = await r.routeStream('small');
    expect(result.ok && result.deployment.id).toBe('openai/small');
    expect(attemptsOf(result).map(([d]) => d)).toEqual(['openai/small', 'openai/lax', 'openai/lax', 'openai/lax']);
    const { pieces, error } = await r.readRest(result);
    expect(error).toBeUndefined();
    expect(pieces).toEqual(REFUSING);
  });

  it('does not run for a stream that begins with content', async () => {
    const r = scriptedRouter({}, { modelList: POLICY, settings: { content_policy_fallbacks: [{ small: ['lax'] }] } });
    expect((await r.routeStream('small')).ok).toBe(true);
    expect(r.streamsTo('openai/lax')).toBe(0);
  });
});

describe('an answer with no content that the model ended on purpose is an answer', () => {
  it.each<StreamPiece>([
    { type: 'end', finishReason: 'length', usage: { prompt_tokens: 1, completion_tokens: 64 } },
    { type: 'end', finishReason: 'content_filter', usage: { prompt_tokens: 1, completion_tokens: 0 } },
  ])('cut off in its thinking, or an empty refusal ($finishReason)', async (end) => {
    const r = scriptedRouter({}, { streams: { 'openai/solo': [[end]] } });
    const result = await r.routeStream('solo');
    expect(result.ok && result.head).toEqual([end]);
    expect((await r.readRest(result)).pieces).toEqual([end]);
    expect(r.streamsTo('openai/solo')).toBe(1);
  });
});
