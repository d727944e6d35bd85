// LLM_CONFIG: LiteLLM's proxy-config shape, validated with errors that name the field's path.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  buildConfig,
  ConfigError,
  DEFAULT_CONFIG_FILE,
  loadConfigFile,
  loadRouterConfig,
} from '../../functions/complete/config.ts';
import { useTempFolder } from '../helpers/temp-files.ts';

const { dir, file } = useTempFolder('konstruct-config-');

const LITELLM_YAML = `
model_list:
  - model_name: fast
    litellm_params: { model: ollama/qwen3:8b, api_base: "http://10.0.1.5:11434", timeout: 60, rpm: 100 }
  - model_name: quality
    litellm_params: { model: anthropic/claude-sonnet-4-20250514, api_key: os.environ/MY_ANTHROPIC }
    model_info: { input_cost_per_token: 0.000003, output_cost_per_token: 0.000015, mode: chat }
  - model_name: quality
    litellm_params: { model: openai/gpt-4o, api_key: os.environ/OPENAI_API_KEY }
    tpm: 1000
router_settings:
  routing_strategy: simple-shuffle
  num_retries: 4
  fallbacks: [{ quality: [fast] }]
  allowed_fails: 1
  cooldown_time: 5
  timeout: 30
  redis_host: localhost
litellm_settings: { drop_params: true }
general_settings: { master_key: sk-1234 }
`;

describe('the built-in defaults', () => {
  it('are fast (Ollama) and quality (Anthropic, OpenAI) with quality → fast, latency-based, 2 retries', () => {
    const { config, ignoredKeys } = loadRouterConfig({ OLLAMA_BASE_URL: 'http://ollama.internal:11434' });
    expect(ignoredKeys).toEqual([]);
    expect(config.deployments.map((d) => [d.group, d.id, d.provider, d.model])).toEqual([
      ['fast', 'ollama/qwen3:8b', 'ollama', 'qwen3:8b'],
      ['quality', 'anthropic/claude-sonnet-4-20250514', 'anthropic', 'claude-sonnet-4-20250514'],
      ['quality', 'openai/gpt-4o', 'openai', 'gpt-4o'],
    ]);
    expect(config.deployments[0]!.apiBase).toBe('http://ollama.internal:11434');
    expect(config.settings).toEqual({
      routingStrategy: 'latency-based-routing',
      numRetries: 2,
      allowedFails: 3,
      cooldownMs: 30_000,
      fallbacks: new Map([['quality', ['fast']]]),
      contextWindowFallbacks: new Map(),
      contentPolicyFallbacks: new Map(),
    });
    expect(config.deployments[1]!.price).toEqual({ input: 3e-6, output: 15e-6 });
    expect(config.deployments[2]!.price).toEqual({ input: 2.5e-6, output: 10e-6 });
    expect(config.deployments[0]!.price).toEqual({ input: 0, output: 0 });
  });
});

describe('a LiteLLM YAML file', () => {
  it('replaces model list, fallbacks and settings, and names every key it ignores', () => {
    const { config, ignoredKeys } = loadConfigFile(file('litellm.yaml', LITELLM_YAML), { MY_ANTHROPIC: 'k1' });
    expect(config.settings).toEqual({
      routingStrategy: 'simple-shuffle',
      numRetries: 4,
      allowedFails: 1,
      cooldownMs: 5_000,
      fallbacks: new Map([['quality', ['fast']]]),
      contextWindowFallbacks: new Map(),
      contentPolicyFallbacks: new Map(),
    });
    expect(config.deployments[0]).toMatchObject({ apiBase: 'http://10.0.1.5:11434', timeoutMs: 60_000 });
    expect(config.deployments[1]!.key).toEqual({ kind: 'env', name: 'MY_ANTHROPIC', value: 'k1' });
    expect(config.deployments[2]!.key).toEqual({ kind: 'env', name: 'OPENAI_API_KEY', value: undefined });
    expect(config.deployments[2]!.timeoutMs).toBe(30_000);
    expect(config.deployments[0]!.weight).toBe(100); // rpm: the share simple-shuffle uses when no weight is set
    expect(ignoredKeys).toEqual([
      'model_list[1].model_info.mode',
      'model_list[2].tpm',
      'router_settings.redis_host',
      'litellm_settings.drop_params',
      'general_settings',
    ]);
  });

  it('reads JSON too', () => {
    const path = file(
      'config.json',
      JSON.stringify({ model_list: [{ model_name: 'x', litellm_params: { model: 'openai/gpt-4o-mini' } }] }),
    );
    const { config } = loadConfigFile(path, {});
    expect(config.deployments[0]).toMatchObject({ id: 'openai/gpt-4o-mini', group: 'x', price: undefined });
  });
});

describe('a bad configuration stops start-up, naming the field', () => {
  /* eslint-disable @typescript-eslint/no-explicit-any -- the cases write into an untyped copy of the file */
  const base = () => structuredClone(DEFAULT_CONFIG_FILE) as unknown as Record<string, any>;
  const cases: [string, (c: Record<string, any>) => void, string][] = [
    [
      'unsupported provider prefix',
      (c) => (c.model_list[0].litellm_params.model = 'vertex_ai/gemini-pro'),
      'model_list[0].litellm_params.model',
    ],
    [
      'prefix with no model',
      (c) => (c.model_list[1].litellm_params.model = 'openai/'),
      'model_list[1].litellm_params.model',
    ],
    ['wrong type', (c) => (c.router_settings.num_retries = 'two'), 'router_settings.num_retries'],
    [
      'num_retries out of range in litellm_settings',
      (c) => (c.litellm_settings = { num_retries: 11 }),
      'litellm_settings.num_retries',
    ],
    [
      'request_timeout below 0.1 s in litellm_settings',
      (c) => (c.litellm_settings = { request_timeout: 0.05 }),
      'litellm_settings.request_timeout',
    ],
    ['num_retries out of range', (c) => (c.router_settings.num_retries = 11), 'router_settings.num_retries'],
    ['num_retries not an integer', (c) => (c.router_settings.num_retries = 1.5), 'router_settings.num_retries'],
    ['allowed_fails out of range', (c) => (c.router_settings.allowed_fails = 101), 'router_settings.allowed_fails'],
    ['cooldown_time out of range', (c) => (c.router_settings.cooldown_time = 3601), 'router_settings.cooldown_time'],
    [
      'timeout out of range',
      (c) => (c.model_list[2].litellm_params.timeout = 0),
      'model_list[2].litellm_params.timeout',
    ],
    ['router timeout of 0', (c) => (c.router_settings.timeout = 0), 'router_settings.timeout'],
    ['weight of 0', (c) => (c.model_list[1].litellm_params.weight = 0), 'model_list[1].litellm_params.weight'],
    [
      'weight not a number',
      (c) => (c.model_list[1].litellm_params.weight = '2'),
      'model_list[1].litellm_params.weight',
    ],
    ['negative rpm', (c) => (c.model_list[1].litellm_params.rpm = -5), 'model_list[1].litellm_params.rpm'],
    ['fractional tpm', (c) => (c.model_list[2].litellm_params.tpm = 1.5), 'model_list[2].litellm_params.tpm'],
    ['order of 0', (c) => (c.model_list[2].litellm_params.order = 0), 'model_list[2].litellm_params.order'],
    ['fractional order', (c) => (c.model_list[2].litellm_params.order = 1.5), 'model_list[2].litellm_params.order'],
    [
      'unknown routing strategy',
      (c) => (c.router_settings.routing_strategy = 'usage-based-routing-v2'),
      'router_settings.routing_strategy',
    ],
    [
      'fallback to an unknown group',
      (c) => (c.router_settings.fallbacks = [{ quality: ['fastest'] }]),
      'router_settings.fallbacks[0].quality',
    ],
    [
      'literal api key',
      (c) => (c.model_list[1].litellm_params.api_key = 'sk-live-123'),
      'model_list[1].litellm_params.api_key',
    ],
    ['empty model list', (c) => (c.model_list = []), 'model_list'],
    [
      'duplicate deployment id',
      (c) => c.model_list.push({ model_name: 'other', litellm_params: { model: 'openai/gpt-4o' } }),
      'model_list[3].litellm_params.model',
    ],
  ];
  /* eslint-enable @typescript-eslint/no-explicit-any */
  it.each(cases)('%s', (_name, mutate, path) => {
    const config = base();
    mutate(config);
    expect(() => buildConfig(config, {})).toThrow(ConfigError);
    expect(() => buildConfig(config, {})).toThrow(path);
  });

  it('refuses a literal api key without echoing it back', () => {
    const config = base();
    config.model_list[1].litellm_params.api_key = 'sk-live-very-secret';
    let error: unknown;
    try {
      buildConfig(config, {});
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as Error).message).toContain('model_list[1].litellm_params.api_key');
    expect((error as Error).message).not.toContain('sk-live-very-secret');
  });

  it('accepts two deployments of one model when model_info.id tells them apart', () => {
    const config = base();
    config.model_list.push({
      model_name: 'quality',
      litellm_params: { model: 'openai/gpt-4o', api_base: 'http://eu.example/v1' },
      model_info: { id: 'gpt-4o-eu' },
    });
    expect(
      buildConfig(config, {})
        .config.groups.get('quality')!
        .map((d) => d.id),
    ).toEqual(['anthropic/claude-sonnet-4-20250514', 'openai/gpt-4o', 'gpt-4o-eu']);
  });

  it('reports a file that is missing or not YAML', () => {
    expect(() => loadConfigFile(join(dir, 'missing.yaml'), {})).toThrow(/cannot read/);
    expect(() => loadConfigFile(file('bad.yaml', 'model_list: [\n  - {'), {})).toThrow(/not valid YAML/);
    expect(() => loadConfigFile(file('bad.json', '{'), {})).toThrow(/not valid JSON/);
  });
});

describe('order, weight, rpm and tpm per deployment', () => {
  const entries = (params: Record<string, number>[]) =>
    params.map((p, i) => ({ model_name: 'quality', litellm_params: { model: `openai/m${i}`, ...p } }));

  it('reads order, 1 when unset', () => {
    const { config } = buildConfig({ model_list: entries([{ order: 2 }, {}]) }, {});
    expect(config.deployments.map((d) => d.order)).toEqual([2, 1]);
  });

  it('accepts the least-busy and cost-based-routing strategies', () => {
    for (const strategy of ['least-busy', 'cost-based-routing'] as const) {
      const { config } = buildConfig(
        { model_list: entries([{}]), router_settings: { routing_strategy: strategy } },
        {},
      );
      expect(config.settings.routingStrategy).toBe(strategy);
    }
  });

  it('under simple-shuffle shares by weight, else rpm, else tpm, warning about the keys beside the one used', () => {
    const { config, ignoredKeys } = buildConfig(
      {
        model_list: [
          ...entries([{ weight: 3, tpm: 1000 }, { rpm: 60 }, {}]),
          { model_name: 'fast', litellm_params: { model: 'openai/f0', rpm: 5, tpm: 7 } },
          { model_name: 'fast', litellm_params: { model: 'openai/f1', tpm: 9 } },
        ],
        router_settings: { routing_strategy: 'simple-shuffle' },
      },
      {},
    );
    // quality shares by weight (a deployment without one gets none); fast by rpm.
    expect(config.deployments.map((d) => d.weight)).toEqual([3, 0, 0, 5, 0]);
    expect(ignoredKeys).toEqual([
      'model_list[0].litellm_params.tpm',
      'model_list[1].litellm_params.rpm',
      'model_list[3].litellm_params.tpm',
      'model_list[4].litellm_params.tpm',
    ]);
  });

  it('gives no shares and warns about each share key under any other strategy', () => {
    for (const strategy of ['latency-based-routing', 'least-busy', 'cost-based-routing'] as const) {
      const { config, ignoredKeys } = buildConfig(
        {
          model_list: entries([{ weight: 2 }, { rpm: 10, tpm: 100 }]),
          router_settings: { routing_strategy: strategy },
        },
        {},
      );
      expect(config.deployments.map((d) => d.weight)).toEqual([undefined, undefined]);
      expect(ignoredKeys).toEqual([
        'model_list[0].litellm_params.weight',
        'model_list[1].litellm_params.rpm',
        'model_list[1].litellm_params.tpm',
      ]);
    }
  });
});
