// The model list: wildcards and unknown providers refused by name, Anthropic base URLs as LiteLLM accepts
// them, prices from either section, numeric ids, and provider-specific checks.
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig, ConfigError } from '../../functions/complete/config.ts';
import { MODEL_PREFIXES } from '../../functions/complete/providers/registry.ts';
import { openai } from '../../functions/complete/providers/openai.ts';

type Entry = { model_name: string; litellm_params: Record<string, unknown>; model_info?: Record<string, unknown> };
const entry = (model: string, params: Record<string, unknown> = {}, modelName = 'g'): Entry => ({
  model_name: modelName,
  litellm_params: { model, ...params },
});
const load = (...entries: Entry[]) => buildConfig({ model_list: entries }, {});
const refusal = (...entries: Entry[]): string => {
  try {
    load(...entries);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  return expect.fail('the file was accepted');
};

describe('wildcards are refused: list each model', () => {
  it.each([
    [entry('openai/*'), 'model_list[0].litellm_params.model'],
    [entry('anthropic/claude-*'), 'model_list[0].litellm_params.model'],
    [entry('openai/gpt-4o', {}, '*'), 'model_list[0].model_name'],
    [entry('openai/gpt-4o', {}, 'claude-*'), 'model_list[0].model_name'],
  ])('%j', (e, path) => {
    expect(refusal(e)).toMatch(new RegExp(`${path.replace(/[[\].]/g, '\\$&')}: is a wildcard: list each model`));
  });
});

describe('a provider this product does not have is refused by name', () => {
  it.each(['vertex_ai/gemini-pro', 'gemini/gemini-1.5-pro', 'groq/llama3-8b-8192', 'together_ai/meta-llama/x'])(
    '%s',
    (model) => {
      const provider = model.slice(0, model.indexOf('/'));
      expect(refusal(entry('openai/gpt-4o'), entry(model))).toContain(
        `model_list[1].litellm_params.model: provider "${provider}" is not supported; use one of ${MODEL_PREFIXES.join(', ')}`,
      );
    },
  );

  it('asks for the prefix of a bare model name', () => {
    expect(refusal(entry('gpt-4o'))).toContain(
      "model_list[0].litellm_params.model: must start with its provider's prefix (e.g. openai/gpt-4o)",
    );
  });
});

describe('an Anthropic api_base as LiteLLM accepts it', () => {
  it.each([
    'https://gw.example/anthropic',
    'https://gw.example/anthropic/',
    'https://gw.example/anthropic/v1',
    'https://gw.example/anthropic/v1/',
    'https://gw.example/anthropic/v1/messages',
    'https://gw.example/anthropic/v1/messages/',
  ])('%s is what the SDK appends /v1/messages to', (apiBase) => {
    const { config } = load(entry('anthropic/claude-sonnet-4-20250514', { api_base: apiBase }));
    expect(config.deployments[0]!.apiBase).toBe('https://gw.example/anthropic');
  });

  it('is left as written for other providers', () => {
    const { config } = load(entry('openai/gpt-4o', { api_base: 'http://vllm:8000/v1' }));
    expect(config.deployments[0]!.apiBase).toBe('http://vllm:8000/v1');
  });
});

describe('prices', () => {
  it('are read from litellm_params too, model_info winning field by field', () => {
    const { config } = load(
      entry('openai/a', { input_cost_per_token: 1e-6, output_cost_per_token: 2e-6 }),
      {
        ...entry('openai/b', { input_cost_per_token: 1e-6, output_cost_per_token: 2e-6 }),
        model_info: { output_cost_per_token: 5e-6 },
      },
      entry('openai/gpt-4o', { input_cost_per_token: 1e-6 }),
    );
    expect(config.deployments.map((d) => d.price)).toEqual([
      { input: 1e-6, output: 2e-6 },
      { input: 1e-6, output: 5e-6 },
      { input: 1e-6, output: 10e-6 }, // the output price the provider knows for gpt-4o
    ]);
  });
});

describe('deployment ids', () => {
  it('take a numeric model_info.id as its decimal string', () => {
    const { config } = load({ ...entry('openai/gpt-4o'), model_info: { id: 42 } }, entry('openai/gpt-4o'));
    expect(config.deployments.map((d) => d.id)).toEqual(['42', 'openai/gpt-4o']);
  });

  it('are refused when two deployments share one, asking for model_info.id', () => {
    expect(
      refusal({ ...entry('openai/a'), model_info: { id: 7 } }, { ...entry('openai/b'), model_info: { id: '7' } }),
    ).toContain(
      'model_list[1].model_info.id: deployment id "7" is already used by model_list[0]; give each a distinct model_info.id',
    );
    expect(refusal(entry('openai/a'), entry('openai/a', {}, 'other'))).toContain(
      'model_list[1].litellm_params.model: deployment id "openai/a" is already used by model_list[0]',
    );
  });
});

describe("a provider's own check", () => {
  afterEach(() => {
    delete (openai as { check?: unknown }).check;
    delete (openai as { literalParams?: unknown }).literalParams;
  });

  it('is reported by the litellm_params field it names', () => {
    (openai as { check?: unknown }).check = (d: { params: { apiVersion?: string } }) =>
      d.params.apiVersion ? undefined : { field: 'api_version', problem: 'is required' };
    expect(load(entry('openai/a', { api_version: 'v1' })).config.deployments).toHaveLength(1);
    expect(refusal(entry('openai/a'))).toContain('model_list[0].litellm_params.api_version: is required');
  });

  it('refuses os.environ/ for the keys the provider needs written as they are', () => {
    (openai as { literalParams?: readonly string[] }).literalParams = ['aws_region_name'];
    const env = { REGION: 'eu-west-1' };
    expect(
      buildConfig({ model_list: [entry('openai/a', { aws_region_name: 'eu-west-1' })] }, env).config.deployments,
    ).toHaveLength(1);
    expect(() =>
      buildConfig({ model_list: [entry('openai/a', { aws_region_name: 'os.environ/REGION' })] }, env),
    ).toThrow('model_list[0].litellm_params.aws_region_name: must be written as it is, not os.environ/REGION');
  });

  it('says a literal key must be written as it is even when its variable is not set: one fix, not two', () => {
    (openai as { literalParams?: readonly string[] }).literalParams = ['aws_region_name'];
    const message = (() => {
      try {
        buildConfig({ model_list: [entry('openai/a', { aws_region_name: 'os.environ/UNSET_REGION' })] }, {});
      } catch (err) {
        return (err as Error).message;
      }
      return 'loaded';
    })();
    expect(message).toContain(
      'model_list[0].litellm_params.aws_region_name: must be written as it is, not os.environ/UNSET_REGION',
    );
    expect(message).not.toContain('is not set');
  });
});
