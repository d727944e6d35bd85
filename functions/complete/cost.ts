// Cost attribution: one record per call (answered or not) that is both a structured log line and an EMF metric.
import type { Deployment } from './config.ts';
import type { Usage } from './providers/provider.ts';
import type { Attempt } from './router/router.ts';
import { emfMetadata } from '../common/telemetry.ts';

export function estimateCostUsd(deployment: Deployment, usage: Usage): number | undefined {
  if (!deployment.price) return undefined;
  const usd = usage.prompt_tokens * deployment.price.input + usage.completion_tokens * deployment.price.output;
  return Math.round(usd * 1e9) / 1e9;
}

export interface CallSummary {
  requestId: string;
  tenantId: string;
  group: string;
  outcome: 'answered' | 'unavailable';
  deployment?: Deployment;
  answeredGroup?: string;
  usage?: Usage;
  latencyMs: number;
  attempts: Attempt[];
}

const CALL_METRICS = {
  Calls: 'Count',
  Unavailable: 'Count',
  LatencyMs: 'Milliseconds',
  Attempts: 'Count',
  PromptTokens: 'Count',
  CompletionTokens: 'Count',
  CostUSD: 'None',
} as const;

/** The EMF directive is the same for every call: built once, only its `Timestamp` set per record. */
const CALL_EMF = emfMetadata(['group', 'deployment'], CALL_METRICS);

/**
 * The record's fields. Dimensions are only `group` and `deployment`; the tenant is a property,
 * so metric count stays bounded. Failed attempts carry status, error kind/code and the provider's
 * request id — never a key, a prompt, a reply or the provider's error text.
 */
export function callRecord(call: CallSummary, now = Date.now()): Record<string, unknown> {
  const costUsd = call.deployment && call.usage ? estimateCostUsd(call.deployment, call.usage) : undefined;
  return {
    _aws: { ...CALL_EMF, Timestamp: now },
    request_id: call.requestId,
    tenant_id: call.tenantId,
    group: call.answeredGroup ?? call.group,
    requested_group: call.group,
    deployment: call.deployment?.id ?? 'none',
    outcome: call.outcome,
    Calls: 1,
    Unavailable: call.outcome === 'unavailable' ? 1 : 0,
    LatencyMs: Math.round(call.latencyMs),
    Attempts: call.attempts.filter((a) => a.outcome !== 'skipped').length,
    PromptTokens: call.usage?.prompt_tokens ?? 0,
    CompletionTokens: call.usage?.completion_tokens ?? 0,
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
