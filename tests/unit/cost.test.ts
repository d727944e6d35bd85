// The per-call cost record: cost estimated from the price table without rounding it away, attempts as made.
import { describe, expect, it } from 'vitest';
import { buildConfig, DEFAULT_CONFIG_FILE } from '../../functions/complete/config.ts';
import { callRecord, type CallSummary } from '../../functions/complete/cost.ts';
import type { Attempt } from '../../functions/complete/router/router.ts';

const { deployments } = buildConfig(DEFAULT_CONFIG_FILE, {}).config;
const gpt4o = deployments.find((d) => d.id === 'openai/gpt-4o')!;

function answered(overrides: Partial<CallSummary>): Record<string, unknown> {
  return callRecord({
    requestId: 'req-1',
    tenantId: 'tenant-1',
    group: 'quality',
    outcome: 'answered',
    deployment: gpt4o,
    usage: { prompt_tokens: 0, completion_tokens: 0 },
    latencyMs: 10,
    attempts: [{ group: 'quality', deployment: gpt4o.id, outcome: 'ok' }],
    ...overrides,
  });
}

describe('estimated cost', () => {
  it('is not rounded to whole micro-dollars: one GPT-4o prompt token costs 0.0000025 USD, one completion token 0.00001', () => {
    const prompt = answered({ usage: { prompt_tokens: 1, completion_tokens: 0 } });
    expect(prompt.CostUSD).toBeCloseTo(0.0000025, 12);
    expect(prompt.cost_known).toBe(true);
    expect(answered({ usage: { prompt_tokens: 0, completion_tokens: 1 } }).CostUSD).toBeCloseTo(0.00001, 12);
    expect(answered({ usage: { prompt_tokens: 1, completion_tokens: 1 } }).CostUSD).toBeCloseTo(0.0000125, 12);
  });
});

describe('attempts in the record', () => {
  it('counts the attempts made, not the deployments skipped for cooldown, missing credentials or the deadline', () => {
    const attempts: Attempt[] = [
      {
        group: 'quality',
        deployment: 'anthropic/claude-sonnet-4-20250514',
        outcome: 'skipped',
        reason: 'no credentials',
      },
      { group: 'quality', deployment: 'openai/gpt-4o', outcome: 'skipped', reason: 'cooldown' },
      { group: 'fast', deployment: 'ollama/qwen3:8b', outcome: 'error', status: 500 },
      { group: 'fast', deployment: 'ollama/qwen3:8b', outcome: 'timeout' },
      { group: 'fast', deployment: 'other', outcome: 'skipped', reason: 'deadline' },
    ];
    const record = callRecord({
      requestId: 'req-1',
      tenantId: 'tenant-1',
      group: 'quality',
      outcome: 'unavailable',
      latencyMs: 10,
      attempts,
    });
    expect(record.Attempts).toBe(2);
    expect(record.attempts).toHaveLength(5); // the skipped ones are still listed, with their reason
  });
});
