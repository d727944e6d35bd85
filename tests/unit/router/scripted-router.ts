// A Router over in-memory providers that follow a script, with a clock that moves only when told to.
import { buildConfig, type ConfigFile } from '../../../functions/complete/config.ts';
import { Deadline } from '../../../functions/complete/deadline.ts';
import type { ProviderAnswer } from '../../../functions/complete/providers/provider.ts';
import { httpFailure, ProviderError, type FailureInfo } from '../../../functions/complete/providers/failure.ts';
import { Router } from '../../../functions/complete/router/router.ts';

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
  } = {},
) {
  const clock = { now: T0 };
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
      stream: () => {
        throw new Error('scripted deployments do not stream');
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
  });
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
  return { router, clock, sleeps, calls, route, answeredBy, health, callsTo };
}
