// Cost attribution: one record per call (answered or not) that is both a structured log line and an EMF metric.
import type { Deployment } from './config.ts';
import type { Usage } from './providers/provider.ts';
import type { Attempt } from './router/router.ts';
import { emfMetadata } from '../common/telemetry.ts';

/** USD for the call, or undefined when the price is unknown or a priced token count is unknown. */
export function estimateCostUsd(deployment: Deployment, usage: Usage): number | undefined {
  const price = deployment.price;
  if (!price) return undefined;
  const part = (tokens: number | null, perToken: number) =>
    perToken === 0 ? 0 : tokens === null ? NaN : tokens * perToken;
  const usd = part(usage.prompt_tokens, price.input) + part(usage.completion_tokens, price.output);
  return Number.isFinite(usd) ? Math.round(usd * 1e9) / 1e9 : undefined;
}

/**
 * `answered` and `unavailable` as for every call; a stream that began can also end `stream_failed` (the
 * provider failed or the deadline passed after the first token) or `client_gone` (the caller went away).
 */
export type CallOutcomeName = 'answered' | 'unavailable' | 'stream_failed' | 'client_gone';

export interface CallSummary {
  requestId: string;
  tenantId: string;
  group: string;
  outcome: CallOutcomeName;
  deployment?: Deployment;
  answeredGroup?: string;
  usage?: Usage;
  latencyMs: number;
  /** A streamed call's time to its first token (the answering attempt's), ms: its own metric, `TtftMs`. */
  ttftMs?: number;
  attempts: Attempt[];
}

const CALL_METRICS = {
  Calls: 'Count',
  Unavailable: 'Count',
  LatencyMs: 'Milliseconds',
  TtftMs: 'Milliseconds',
  Attempts: 'Count',
  PromptTokens: 'Count',
  CompletionTokens: 'Count',
  CostUSD: 'None',
} as const;

type CallMetric = keyof typeof CALL_METRICS;

/**
 * EMF requires every metric it names to be a number in the record, so an unknown token count (and the
 * time to first token of a call that was not streamed) leaves its metric out of the directive. The
 * directives are built once per set of left-out metrics (at most eight), only their `Timestamp` set per record.
 */
const callEmf = new Map<string, ReturnType<typeof emfMetadata>>();
function callEmfWithout(missing: readonly CallMetric[]): ReturnType<typeof emfMetadata> {
  const key = missing.join(',');
  let emf = callEmf.get(key);
  if (!emf) {
    const metrics = Object.fromEntries(
      Object.entries(CALL_METRICS).filter(([name]) => !missing.includes(name as CallMetric)),
    );
    // Per deployment, and per group alone, so an alarm on a group needs no metric math.
    emf = emfMetadata([['group', 'deployment'], ['group']], metrics);
    callEmf.set(key, emf);
  }
  return emf;
}

/**
 * The record's fields. Dimension sets are `[group, deployment]` and `[group]`; the tenant is a property,
 * so metric count stays bounded. Failed attempts carry status, error kind/code and the provider's
 * request id — never a key, a prompt, a reply or the provider's error text.
 */
export function callRecord(call: CallSummary, now = Date.now()) {
  const costUsd = call.deployment && call.usage ? estimateCostUsd(call.deployment, call.usage) : undefined;
  // Unknown counts are null, never 0: a 0 would understate usage without saying so.
  const promptTokens = call.usage ? call.usage.prompt_tokens : 0;
  const completionTokens = call.usage ? call.usage.completion_tokens : 0;
  const missing: CallMetric[] = [];
  if (promptTokens === null) missing.push('PromptTokens');
  if (completionTokens === null) missing.push('CompletionTokens');
  if (call.ttftMs === undefined) missing.push('TtftMs');
  return {
    _aws: { ...callEmfWithout(missing), Timestamp: now },
    request_id: call.requestId,
    tenant_id: call.tenantId,
    group: call.answeredGroup ?? call.group,
    requested_group: call.group,
    deployment: call.deployment?.id ?? 'none',
    outcome: call.outcome,
    Calls: 1,
    Unavailable: call.outcome === 'unavailable' ? 1 : 0,
    LatencyMs: Math.round(call.latencyMs),
    ...(call.ttftMs !== undefined && { streamed: true, TtftMs: Math.round(call.ttftMs) }),
    Attempts: call.attempts.filter((a) => a.outcome !== 'skipped').length,
    PromptTokens: promptTokens,
    CompletionTokens: completionTokens,
    CostUSD: costUsd ?? 0,
    cost_known: costUsd !== undefined,
    attempts: call.attempts.map((a) => ({
      group: a.group,
      deployment: a.deployment,
      outcome: a.outcome,
      ...(a.status !== undefined && { status: a.status }),
      ...(a.reason && { reason: a.reason }),
      ...(a.failure && { error_kind: a.failure.kind }),
      ...(a.failure?.code && { error_code: a.failure.code }),
      ...(a.failure?.requestId && { provider_request_id: a.failure.requestId }),
    })),
  };
}
