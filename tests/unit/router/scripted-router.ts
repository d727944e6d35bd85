// A Router over in-memory providers that follow a script (answers, and streams of pieces), with a clock that
// moves only when told to or, in `run`, when nothing else can happen before the next timer on it.
import { buildConfig, type ConfigFile } from '../../../functions/complete/config.ts';
import { Deadline } from '../../../functions/complete/deadline.ts';
import type { ProviderAnswer, StreamPiece } from '../../../functions/complete/providers/provider.ts';
import { httpFailure, ProviderError, type FailureInfo } from '../../../functions/complete/providers/failure.ts';
import { Router, type StreamRouteResult } from '../../../functions/complete/router/router.ts';

export const T0 = Date.parse('2026-03-01T12:00:00Z');

const ANSWER: ProviderAnswer = {
  content: 'ok',
  usage: { prompt_tokens: 1, completion_tokens: 1 },
  finishReason: 'stop',
};

export const REFUSAL: ProviderAnswer = {
  ...ANSWER,
  content: 'I cannot help with that.',
  finishReason: 'content_filter',
};

/** What a scripted deployment does on one call. */
export type Step =
  | 'ok'
  /** Answer with a refusal (`finishReason: 'content_filter'`), as the adapters report one. */
  | 'refusal'
  /** Fail as the adapters do for an HTTP status (and headers). */
  | { status: number; headers?: Record<string, string> }
  /** Fail with exactly this classification. */
  | { failure: FailureInfo }
  /** Answer after the clock has moved this far. */
  | { answerAfterMs: number }
  /** Time out after the clock has moved this far, as the attempt's own timeout would. */
  | { timeoutAfterMs: number }
  /** Answer once the test resolves the promise (a call in flight). */
  | { until: Promise<void> };

/** What a scripted stream does next, after the pieces before it. */
export type Beat =
  | StreamPiece
  /** The clock moves this far before the next beat (a timer on the router's clock). */
  | { waitMs: number }
  /** The stream fails with exactly this classification. */
  | { fail: FailureInfo }
  /** Nothing more ever comes, until the call is aborted. */
  | 'hang'
  /** The stream stops without its end piece. */
  | 'stop';

/** What a scripted deployment does on one streamed call: fail before any piece, or play its beats. */
export type StreamStep = { status: number; headers?: Record<string, string> } | { failure: FailureInfo } | Beat[];

/** A list of steps, one per call (each a list of beats or a failure), rather than one step repeated. */
const isStepList = (script: StreamStep[] | StreamStep | undefined): script is StreamStep[] =>
  Array.isArray(script) &&
  script.every((x) => Array.isArray(x) || (typeof x === 'object' && ('status' in x || 'failure' in x)));

/** A content piece. */
export const piece = (text: string): StreamPiece => ({ type: 'content', text });
export const END: StreamPiece = {
  type: 'end',
  finishReason: 'stop',
  usage: { prompt_tokens: 1, completion_tokens: 2 },
};
/** A stream that says `texts` in pieces, then ends. */
export const said = (...texts: string[]): Beat[] => [...texts.map(piece), END];

export const fail = (status: number, headers?: Record<string, string>): Step => ({ status, headers });
export const failWith = (failure: FailureInfo): Step => ({ failure });

/** One group `solo` of one deployment, and `pair` of two (`openai/a` before `openai/b`). */
const MODEL_LIST: ConfigFile['model_list'] = [
  { model_name: 'solo', litellm_params: { model: 'openai/solo' } },
  { model_name: 'pair', litellm_params: { model: 'openai/a' } },
  { model_name: 'pair', litellm_params: { model: 'openai/b' } },
];

/**
 * A router whose deployments follow `scripts` (a list of steps, after which the deployment answers, or
 * one step it repeats forever). The clock moves only when the router sleeps, a step says so, or the
 * test sets it.
 */
export function scriptedRouter(
  scripts: Record<string, Step[] | Step>,
  options: {
    random?: number | (() => number);
    settings?: ConfigFile['router_settings'];
    modelList?: ConfigFile['model_list'];
    /** Each deployment's streamed calls, as `scripts` (after them, it says `ok`). */
    streams?: Record<string, StreamStep[] | StreamStep>;
  } = {},
) {
  const clock = { now: T0 };
  const timers: { at: number; fire: () => void }[] = [];
  const setTimer = (ms: number, fire: () => void) => {
    const timer = { at: clock.now + ms, fire };
    timers.push(timer);
    return () => {
      const i = timers.indexOf(timer);
      if (i >= 0) timers.splice(i, 1);
    };
  };
  /** Waits `ms` on the clock, or until `signal` aborts (then fails as an adapter does: a timeout). */
  const wait = (ms: number, signal: AbortSignal) =>
    new Promise<void>((resolve, reject) => {
      const aborted = () => reject(new ProviderError({ kind: 'retryable', timeout: true }));
      if (signal.aborted) return aborted();
      const cancel = setTimer(ms, () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
      const onAbort = () => (cancel(), aborted());
      signal.addEventListener('abort', onAbort, { once: true });
    });
  const streamCalls: { deployment: string; at: number; signal: AbortSignal; returned: boolean }[] = [];
  async function* play(step: StreamStep, signal: AbortSignal, call: (typeof streamCalls)[number]) {
    try {
      if ('status' in step) throw httpFailure(step.status, (name) => step.headers?.[name]);
      if ('failure' in step) throw new ProviderError(step.failure);
      for (const beat of step) {
        if (signal.aborted) throw new ProviderError({ kind: 'retryable', timeout: true });
        if (beat === 'stop') return;
        if (beat === 'hang') await wait(Infinity, signal);
        else if ('waitMs' in beat) await wait(beat.waitMs, signal);
        else if ('fail' in beat) throw new ProviderError(beat.fail);
        else yield beat;
      }
    } finally {
      call.returned = true;
    }
  }
  const sleeps: { at: number; ms: number }[] = [];
  const calls: { deployment: string; at: number }[] = [];
  const random = options.random ?? 0.5;
  const config = buildConfig(
    {
      model_list: options.modelList ?? MODEL_LIST,
      router_settings: { num_retries: 2, cooldown_time: 30, ...options.settings },
    },
    {},
  ).config;
  const router = new Router({
    config,
    keyFor: () => 'key',
    providerFor: (d) => ({
      stream(call) {
        const record = { deployment: d.id, at: clock.now, signal: call.signal, returned: false };
        streamCalls.push(record);
        const script = options.streams?.[d.id];
        const step = isStepList(script) ? (script.shift() ?? said('ok')) : (script ?? said('ok'));
        return play(step, call.signal, record);
      },
      async complete() {
        calls.push({ deployment: d.id, at: clock.now });
        const script = scripts[d.id];
        const step = Array.isArray(script) ? (script.shift() ?? 'ok') : (script ?? 'ok');
        if (step === 'ok') return ANSWER;
        if (step === 'refusal') return REFUSAL;
        if ('status' in step) throw httpFailure(step.status, (name) => step.headers?.[name]);
        if ('failure' in step) throw new ProviderError(step.failure);
        if ('until' in step) {
          await step.until;
          return ANSWER;
        }
        if ('answerAfterMs' in step) {
          clock.now += step.answerAfterMs;
          return ANSWER;
        }
        clock.now += step.timeoutAfterMs;
        throw new ProviderError({ kind: 'retryable', timeout: true });
      },
    }),
    now: () => clock.now,
    random: typeof random === 'number' ? () => random : random,
    sleep: async (ms) => {
      sleeps.push({ at: clock.now, ms });
      clock.now += ms;
    },
    setTimer,
  });
  /**
   * Settles `promise`, moving the clock to the next timer whenever nothing else is left to happen (a
   * macrotask turn drains every promise chain first), so waits take no real time.
   */
  const run = async <T>(promise: Promise<T>): Promise<T> => {
    let settled = false;
    promise.then(
      () => (settled = true),
      () => (settled = true),
    );
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (settled) return promise;
      timers.sort((x, y) => x.at - y.at);
      const next = timers.shift();
      if (!next || next.at === Infinity) throw new Error('the router waits for something that never comes');
      clock.now = Math.max(clock.now, next.at);
      next.fire();
    }
  };
  /** Routes a streamed request of `group` (on the clock, through `run`). */
  const routeStream = (group: string, timeoutMs = 60_000, signal?: AbortSignal): Promise<StreamRouteResult> =>
    run(
      router.routeStream({
        group,
        messages: [{ role: 'user', content: 'hi' }],
        deadline: Deadline.after(timeoutMs, () => clock.now),
        signal,
      }),
    );
  /** Reads what is left of an answered stream: the pieces, and the failure that ended it, if one did. */
  const readRest = async (result: StreamRouteResult) => {
    if (!result.ok) throw new Error('no stream: every attempt failed');
    const pieces = [...result.head];
    const iterator = result.rest[Symbol.asyncIterator]();
    for (;;) {
      try {
        const next = await run(iterator.next());
        if (next.done) return { pieces, error: undefined };
        pieces.push(next.value);
      } catch (error) {
        return { pieces, error: error as ProviderError };
      }
    }
  };
  /** The text the caller saw, from head and rest. */
  const textOf = (pieces: StreamPiece[]) => pieces.map((p) => (p.type === 'end' ? '' : p.text)).join('');
  const route = (group: string, timeoutMs = 60_000) =>
    router.route({
      group,
      messages: [{ role: 'user', content: 'hi' }],
      deadline: Deadline.after(timeoutMs, () => clock.now),
    });
  /** The deployment that answered, or undefined when none did. */
  const answeredBy = async (group: string, timeoutMs?: number) => {
    const result = await route(group, timeoutMs);
    return result.ok ? result.deployment.id : undefined;
  };
  const health = (id: string) => router.health().find((d) => d.deployment === id)!;
  const callsTo = (id: string) => calls.filter((c) => c.deployment === id).length;
  const streamsTo = (id: string) => streamCalls.filter((c) => c.deployment === id).length;
  return {
    ...{ router, clock, sleeps, calls, route, answeredBy, health, callsTo },
    ...{ streamCalls, streamsTo, run, routeStream, readRest, textOf, after: setTimer },
  };
}
