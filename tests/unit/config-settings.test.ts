// Router settings from a file: `router_settings`, also `litellm_settings` where LiteLLM's router reads them,
// this product's defaults for the rest, and one warning naming every key not acted on.
import { describe, expect, it } from 'vitest';
import { buildConfig, ConfigError, type ConfigFile } from '../../functions/complete/config.ts';
import { parseConfigText } from '../../functions/complete/config-text.ts';

const MODELS: ConfigFile['model_list'] = [
  { model_name: 'fast', litellm_params: { model: 'ollama/qwen3:8b' } },
  { model_name: 'quality', litellm_params: { model: 'openai/gpt-4o' } },
  { model_name: 'long', litellm_params: { model: 'anthropic/claude-sonnet-4-20250514' } },
];
const load = (file: Record<string, unknown>) => buildConfig({ model_list: MODELS, ...file }, {});

describe("litellm_settings carries the keys LiteLLM's router reads there", () => {
  it('takes retries, cooldown, timeout and every kind of fallbacks from litellm_settings', () => {
    const { config, ignoredKeys } = load({
      litellm_settings: {
        num_retries: 5,
        allowed_fails: 7,
        cooldown_time: 12.5,
        request_timeout: 0.5,
        fallbacks: [{ quality: ['fast'] }],
        default_fallbacks: ['long'],
        context_window_fallbacks: [{ fast: ['long'] }],
        content_policy_fallbacks: [{ quality: ['long'] }],
      },
    });
    expect(config.settings).toEqual({
      routingStrategy: 'latency-based-routing',
      numRetries: 5,
      allowedFails: 7,
      cooldownMs: 12_500,
      fallbacks: new Map([
        ['fast', ['long']],
        ['quality', ['fast']],
      ]),
      contextWindowFallbacks: new Map([['fast', ['long']]]),
      contentPolicyFallbacks: new Map([['quality', ['long']]]),
    });
    expect(config.deployments.map((d) => d.timeoutMs)).toEqual([500, 500, 500]);
    expect(ignoredKeys).toEqual([]);
  });

  it('lets router_settings win a key both set, and warns about the litellm_settings one', () => {
    const { config, ignoredKeys } = load({
      router_settings: { num_retries: 1, timeout: 20, fallbacks: [{ quality: ['long'] }] },
      litellm_settings: { num_retries: 9, request_timeout: 90, fallbacks: [{ quality: ['fast'] }], allowed_fails: 0 },
    });
    expect(config.settings.numRetries).toBe(1);
    expect(config.settings.allowedFails).toBe(0); // set only in litellm_settings: taken from there
    expect(config.settings.fallbacks).toEqual(new Map([['quality', ['long']]]));
    expect(config.deployments[0]!.timeoutMs).toBe(20_000);
    expect(ignoredKeys).toEqual([
      'litellm_settings.num_retries',
      'litellm_settings.fallbacks',
      'litellm_settings.request_timeout',
    ]);
  });

  it('names a litellm_settings value out of range by its litellm_settings path', () => {
    expect(() => load({ litellm_settings: { cooldown_time: -1 } })).toThrow(ConfigError);
    expect(() => load({ litellm_settings: { cooldown_time: -1 } })).toThrow('litellm_settings.cooldown_time');
    expect(() => load({ litellm_settings: { fallbacks: [{ quality: ['nowhere'] }] } })).toThrow(
      'litellm_settings.fallbacks[0].quality: names unknown group "nowhere"',
    );
  });
});

describe("omitted settings take this product's defaults", () => {
  it('is latency-based with 2 retries, 3 allowed fails, a 30 s cooldown and a 60 s timeout', () => {
    const { config } = load({});
    expect(config.settings).toMatchObject({
      routingStrategy: 'latency-based-routing',
      numRetries: 2,
      allowedFails: 3,
      cooldownMs: 30_000,
    });
    expect(config.deployments.map((d) => d.timeoutMs)).toEqual([60_000, 60_000, 60_000]);
  });
});

describe('timeouts', () => {
  it('accept fractions of a second down to 0.1 s, per deployment and as the router default', () => {
    const { config } = buildConfig(
      {
        model_list: [
          { model_name: 'a', litellm_params: { model: 'openai/a', timeout: 0.1 } },
          { model_name: 'a', litellm_params: { model: 'openai/b', timeout: 2.75 } },
          { model_name: 'a', litellm_params: { model: 'openai/c' } },
        ],
        router_settings: { timeout: 0.3 },
      },
      {},
    );
    expect(config.deployments.map((d) => d.timeoutMs)).toEqual([100, 2750, 300]);
  });

  it.each([0.09, 900.5])('refuses %d s', (timeout) => {
    const file = { model_list: [{ model_name: 'a', litellm_params: { model: 'openai/a', timeout } }] };
    expect(() => buildConfig(file, {})).toThrow('model_list[0].litellm_params.timeout');
  });
});

describe('keys not acted on are named, each by its full path, in one warning', () => {
  it('names other litellm_settings keys, general_settings, environment_variables, model_info keys and typos', () => {
    const { ignoredKeys } = buildConfig(
      {
        model_list: [
          {
            model_name: 'fast',
            litellm_params: { model: 'ollama/qwen3:8b', temperature: 0.2, max_tokens: 100 },
            model_info: { id: 'f', mode: 'chat', base_model: 'qwen' },
          },
        ],
        router_settings: { routing_strategy: 'least-busy', num_retrys: 3, redis_host: 'r' },
        litellm_settings: { drop_params: true, set_verbose: false, routing_strategy: 'simple-shuffle' },
        general_settings: { master_key: 'sk-1234' },
        environment_variables: { REDIS_HOST: 'r' },
      },
      {},
    );
    expect(ignoredKeys).toEqual([
      'model_list[0].litellm_params.temperature',
      'model_list[0].litellm_params.max_tokens',
      'model_list[0].model_info.mode',
      'model_list[0].model_info.base_model',
      'router_settings.num_retrys',
      'router_settings.redis_host',
      'litellm_settings.drop_params',
      'litellm_settings.set_verbose',
      'litellm_settings.routing_strategy',
      'general_settings',
      'environment_variables',
    ]);
  });
});

describe('an empty section', () => {
  it('is read as no settings, as LiteLLM reads it', () => {
    const yaml =
      'model_list:\n  - model_name: fast\n    litellm_params: { model: ollama/qwen3:8b }\n    model_info:\nrouter_settings:\nlitellm_settings:\n';
    const { config, ignoredKeys } = buildConfig(parseConfigText(yaml, true), {});
    expect(config.settings.numRetries).toBe(2);
    expect(config.deployments[0]!.id).toBe('ollama/qwen3:8b');
    expect(ignoredKeys).toEqual([]);
  });
});
