// A streamed router call: the same deadline and keys as every call, then `routeStream`, and one cost record
// written when the stream ends, however it ends.
import type { Context } from 'aws-lambda';
import type { Deployment } from './config.ts';
import { callRecord, type CallOutcomeName } from './cost.ts';
import type { Deadline } from './deadline.ts';
import type { StreamPiece, Usage } from './providers/provider.ts';
import type { Attempt } from './router/router.ts';
import { beginCall, type CallDeps, type CallInput } from './routed-call.ts';

/** How a stream that began ended: its usage is known only when the provider sent its end. */
export type StreamEnd =
  { outcome: 'answered'; usage: Usage } | { outcome: Exclude<CallOutcomeName, 'answered' | 'unavailable'> };

export type StreamOutcome =
  | {
      ok: true;
      deployment: Deployment;
      group: string;
      /** Attempts made (skipped deployments not counted). */
      attempts: number;
      head: StreamPiece[];
      rest: AsyncIterable<StreamPiece>;
      deadline: Deadline;
      /** Writes the call's cost record; call it once, when the stream has ended. */
      finish(end: StreamEnd): void;
    }
  | { ok: false; attempts: Attempt[]; retryAfterS?: number };

const UNKNOWN_USAGE: Usage = { prompt_tokens: null, completion_tokens: null };

/** Routes one streamed request; `signal` aborts the provider call when the caller goes away. */
export async function routeStreamCall(
  deps: CallDeps,
  input: CallInput,
  context: Context,
  signal: AbortSignal,
): Promise<StreamOutcome> {
  const { router, records, now } = deps;
  const { started, deadline } = await beginCall(deps, input, context);
  const result = await router.routeStream({
    group: input.group,
    messages: input.messages,
    maxTokens: input.maxTokens,
    temperature: input.temperature,
    deadline,
    signal,
  });
  const summary = { requestId: input.requestId, tenantId: input.tenantId, group: input.group };
  if (!result.ok) {
    const latencyMs = now() - started;
    records.info(
      'completion',
      // A caller that left before the first token is not the providers' unavailability.
      callRecord({
        ...summary,
        latencyMs,
        outcome: signal.aborted ? 'client_gone' : 'unavailable',
        attempts: result.attempts,
      }),
    );
    return result;
  }
  let finished = false;
  return {
    ok: true,
    deployment: result.deployment,
    group: result.group,
    attempts: result.attempts.filter((a) => a.outcome !== 'skipped').length,
    head: result.head,
    rest: result.rest,
    deadline,
    finish(end) {
      if (finished) return;
      finished = true;
      records.info(
        'completion',
        callRecord({
          ...summary,
          outcome: end.outcome,
          deployment: result.deployment,
          answeredGroup: result.group,
          usage: end.outcome === 'answered' ? end.usage : UNKNOWN_USAGE,
          latencyMs: now() - started,
          ttftMs: result.ttftMs,
          attempts: result.attempts,
        }),
      );
    },
  };
}
