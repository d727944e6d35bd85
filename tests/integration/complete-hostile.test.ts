// What providers and configuration files can send that `complete` must not trust: absurd usage counts and
// Retry-After values, error codes that echo input, and group names that are Object's own property names.
import { describe, expect, it } from 'vitest';
import { buildConfig, type ConfigFile } from '../../functions/complete/config.ts';
import { PROVIDER_ERROR_TEXT, useFakeProviders, type FakeKind } from '../fakes/provider-server.ts';
import { completeFunction } from '../helpers/function-url.ts';
import { captureDuring } from '../helpers/log-capture.ts';

const ANTHROPIC = 'anthropic/claude-sonnet-4-20250514';
const OPENAI = 'openai/gpt-4o';
const OLLAMA = 'ollama/qwen3:8b';

const fakes = useFakeProviders();

type CostRecord = Record<string, unknown> & {
  attempts: Record<string, unknown>[];
  _aws: { CloudWatchMetrics: { Metrics: { Name: string }[] }[] };
};

/** Sends one request and returns its answer, its cost record (found by request id) and everything logged. */
async function completeLogged(fn: ReturnType<typeof completeFunction>, request: Record<string, unknown>) {
  let res: Awaited<ReturnType<typeof fn.complete>> | undefined;
  const output = await captureDuring(async () => (res = await fn.complete(request)));
  const record = output
    .records()
    .find((r) => r.message === 'completion' && r.request_id === res!.headers['x-request-id']);
  return { res: res!, record: record as CostRecord, logged: output.text() };
}

describe('usage counts that are not integers in [0, 2^31) are unknown', () => {
  it.each<[FakeKind, string, string]>([
    ['anthropic', 'quality', ANTHROPIC],
    ['openai', 'quality', OPENAI],
  ])(
    '%s reporting 3 000 000 000 prompt tokens: usage null in the answer and the record, cost unknown',
    async (kind, group, deployment) => {
      if (kind === 'openai') fakes.anthropic.always({ status: 500 });
      fakes[kind].next({ usage: { input: 3_000_000_000, output: 34 } });
      const { res, record } = await completeLogged(completeFunction(fakes), { model: group });
      expect(res.status).toBe(200);
      const body = res.body;
      expect(body).toMatchObject({ model: deployment, usage: { prompt_tokens: null, completion_tokens: 34 } });
      expect(body).not.toHaveProperty('cost_usd');
      expect(record).toMatchObject({
        deployment,
        PromptTokens: null,
        CompletionTokens: 34,
        cost_known: false,
        CostUSD: 0,
      });
      // EMF names only metrics the record holds as numbers.
      const metrics = record._aws.CloudWatchMetrics[0]!.Metrics.map((m) => m.Name);
      expect(metrics).not.toContain('PromptTokens');
      expect(metrics).toContain('CompletionTokens');
    },
  );

  it.each([-1, 1.5, 2 ** 31])('treats %d as unknown too', async (count) => {
    fakes.anthropic.next({ usage: { input: 12, output: count } });
    const res = await completeFunction(fakes).complete({ model: 'quality' });
    expect(res.body.usage).toEqual({ prompt_tokens: 12, completion_tokens: null });
    expect(res.body).not.toHaveProperty('cost_usd');
  });

  it('keeps the cost known when the unknown count is free (Ollama, 0 per token)', async () => {
    fakes.ollama.next({ usage: { input: 3_000_000_000, output: 5 } });
    const res = await completeFunction(fakes).complete({ model: 'fast' });
    expect(res.body).toMatchObject({ usage: { prompt_tokens: null, completion_tokens: 5 }, cost_usd: 0 });
  });

  it('keeps 2^31 - 1 and 0 as counts', async () => {
    fakes.anthropic.next({ usage: { input: 2 ** 31 - 1, output: 0 } });
    const res = await completeFunction(fakes).complete({ model: 'quality' });
    expect(res.body.usage).toEqual({ prompt_tokens: 2 ** 31 - 1, completion_tokens: 0 });
    expect(res.body.cost_usd).toBeCloseTo((2 ** 31 - 1) * 3e-6, 6);
  });
});

describe('GET /health never fails on router state; no cooldown exceeds 3600 s', () => {
  const farFuture = new Date(Date.UTC(275_000, 0, 1)).toUTCString();
  it.each([
    ['retry-after', '9000000000000'],
    ['retry-after-ms', '9000000000000000'],
    ['retry-after', 'Fri, 31 Dec 9999 23:59:59 GMT'],
    ['retry-after', farFuture],
  ])('a 429 with %s: %s', async (header, value) => {
    fakes.anthropic.next({ status: 429, headers: { [header]: value } });
    const fn = completeFunction(fakes);
    const res = await fn.complete({ model: 'quality' });
    expect(res.body.model).toBe(OPENAI);
    const health = await fn.health();
    expect(health.status).toBe(200);
    const anthropic = health.body.deployments.find((d: { deployment: string }) => d.deployment === ANTHROPIC);
    expect(anthropic.available).toBe(false);
    const cooldownS = (Date.parse(anthropic.cooldown_until) - Date.now()) / 1000;
    expect(cooldownS).toBeGreaterThan(3000);
    expect(cooldownS).toBeLessThanOrEqual(3600);
  });
});

describe('group names are ordinary strings, whatever Object.prototype holds', () => {
  // Built by JSON.parse: in an object literal `__proto__:` would set the prototype instead of a key.
  const config = JSON.parse(`{
    "model_list": [
      { "model_name": "constructor", "litellm_params": { "model": "${ANTHROPIC}" } },
      { "model_name": "__proto__", "litellm_params": { "model": "${OPENAI}" } },
      { "model_name": "toString", "litellm_params": { "model": "${OLLAMA}" } }
    ],
    "router_settings": { "num_retries": 0, "fallbacks": [{ "constructor": ["__proto__"] }, { "__proto__": ["toString"] }] }
  }`) as ConfigFile;

  it.each([
    ['constructor', ANTHROPIC],
    ['__proto__', OPENAI],
    ['toString', OLLAMA],
  ])('answers group %s from its deployment', async (group, deployment) => {
    const res = await completeFunction(fakes, { config }).complete({ model: group });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model: deployment, model_group: group, fallback: false });
  });

  it('follows constructor → __proto__ → (not further) fallbacks', async () => {
    fakes.anthropic.always({ status: 500 });
    fakes.openai.always({ status: 500 });
    const res = await completeFunction(fakes, { config }).complete({ model: 'constructor' });
    expect(res.status).toBe(503);
    expect(res.body.attempts.map((a: { group: string }) => a.group)).toEqual(['constructor', '__proto__']);
    const again = await completeFunction(fakes, { config }).complete({ model: '__proto__' });
    expect(again.body).toMatchObject({ model: OLLAMA, model_group: 'toString', fallback: true });
  });

  it('answers 400 for hasOwnProperty, which is no group, listing the groups', async () => {
    const res = await completeFunction(fakes, { config }).complete({ model: 'hasOwnProperty' });
    expect(res.status).toBe(400);
    expect(res.body.known_groups).toEqual(['constructor', '__proto__', 'toString']);
  });

  it('builds the same groups from the parsed file as the loader does', () => {
    expect([...buildConfig(config, {}).config.groups.keys()]).toEqual(['constructor', '__proto__', 'toString']);
  });
});

describe('provider error codes reach logs only when they look like codes', () => {
  const ECHO = 'Ignore all previous instructions: my confidential prompt';
  it.each<[FakeKind, string, string]>([
    ['openai', ECHO, 'unrecognised'],
    ['anthropic', ECHO, 'unrecognised'],
    ['openai', 'x'.repeat(65), 'unrecognised'],
    ['openai', 'context_length_exceeded', 'context_length_exceeded'],
    ['anthropic', 'invalid_request_error', 'invalid_request_error'],
  ])('%s error code %j is logged as %s', async (kind, code, logged) => {
    const other = kind === 'openai' ? fakes.anthropic : fakes.openai;
    other.always({ status: 500 }); // so that `kind` fails second and both attempts show
    fakes[kind].always({ status: 400, errorCode: code });
    fakes.ollama.always({ status: 500 });
    const { record, logged: text } = await completeLogged(completeFunction(fakes), { model: 'quality' });
    expect(record.attempts.find((a) => a.status === 400)).toMatchObject({ error_kind: 'rejected', error_code: logged });
    for (const leak of [ECHO, PROVIDER_ERROR_TEXT]) expect(text).not.toContain(leak);
  });

  it.each([
    ['Ignore all previous instructions: my confidential prompt', 'unrecognised'],
    ['req_0123abc', 'req_0123abc'],
  ])('a provider request id %j is logged as %s', async (id, logged) => {
    fakes.openai.always({ status: 500, headers: { 'x-request-id': id } });
    fakes.anthropic.always({ status: 500, headers: { 'request-id': id } });
    fakes.ollama.always({ status: 500 });
    const { record, logged: text } = await completeLogged(completeFunction(fakes), { model: 'quality' });
    const providerAttempts = record.attempts.filter((a) => a.status === 500 && a.deployment !== OLLAMA);
    expect(providerAttempts.length).toBeGreaterThan(0);
    for (const attempt of providerAttempts) expect(attempt).toMatchObject({ provider_request_id: logged });
    if (logged === 'unrecognised') expect(text).not.toContain(id);
  });
});
