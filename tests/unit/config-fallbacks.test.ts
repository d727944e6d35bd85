// Fallback lists as LiteLLM's router reads them: none unless configured, first entry per group, each target
// once, `default_fallbacks` and `"*"` for groups without their own, and unknown groups refused by path.
import { describe, expect, it } from 'vitest';
import { buildConfig, ConfigError, type ConfigFile } from '../../functions/complete/config.ts';

const MODELS: ConfigFile['model_list'] = [
  { model_name: 'fast', litellm_params: { model: 'ollama/qwen3:8b' } },
  { model_name: 'quality', litellm_params: { model: 'openai/gpt-4o' } },
  { model_name: 'long', litellm_params: { model: 'anthropic/claude-sonnet-4-20250514' } },
];
const settingsOf = (routerSettings: Record<string, unknown>) =>
  buildConfig({ model_list: MODELS, router_settings: routerSettings }, {});

describe('a file replaces the built-in fallbacks', () => {
  it('has no fallbacks when it configures none, though it has the quality and fast groups', () => {
    const { config } = buildConfig({ model_list: MODELS }, {});
    expect(config.settings.fallbacks).toEqual(new Map());
    expect(config.settings.contextWindowFallbacks).toEqual(new Map());
    expect(config.settings.contentPolicyFallbacks).toEqual(new Map());
  });
});

describe("a group's fallbacks", () => {
  it('come from the first entry that names the group; a later one is warned about', () => {
    const { config, ignoredKeys } = settingsOf({ fallbacks: [{ quality: ['fast'] }, { quality: ['long'] }] });
    expect(config.settings.fallbacks).toEqual(new Map([['quality', ['fast']]]));
    expect(ignoredKeys).toEqual(['router_settings.fallbacks[1].quality']);
  });

  it('run each target once and never the group itself', () => {
    const { config } = settingsOf({ fallbacks: [{ quality: ['fast', 'quality', 'fast', 'long', 'long'] }] });
    expect(config.settings.fallbacks).toEqual(new Map([['quality', ['fast', 'long']]]));
  });

  it('default to default_fallbacks for every group without its own entry', () => {
    const { config } = settingsOf({ fallbacks: [{ quality: ['fast'] }], default_fallbacks: ['long', 'long'] });
    expect(config.settings.fallbacks).toEqual(
      new Map([
        ['fast', ['long']],
        ['quality', ['fast']],
      ]),
    );
  });

  it('default to a "*" entry too, as LiteLLM reads it; default_fallbacks wins over it', () => {
    expect(settingsOf({ fallbacks: [{ '*': ['fast'] }] }).config.settings.fallbacks).toEqual(
      new Map([
        ['quality', ['fast']],
        ['long', ['fast']],
      ]),
    );
    const both = settingsOf({ fallbacks: [{ '*': ['fast'] }], default_fallbacks: ['quality'] });
    expect(both.config.settings.fallbacks).toEqual(
      new Map([
        ['fast', ['quality']],
        ['long', ['quality']],
      ]),
    );
    expect(both.ignoredKeys).toEqual(['router_settings.fallbacks[0].*']);
  });

  it('keep an entry that names only the group itself: the default does not apply to it', () => {
    const { config } = settingsOf({ fallbacks: [{ fast: ['fast'] }], default_fallbacks: ['long'] });
    expect(config.settings.fallbacks).toEqual(new Map([['quality', ['long']]]));
  });
});

describe('context-window and content-policy fallbacks', () => {
  it('are read per group with the same rules, "*" included', () => {
    const { config } = settingsOf({
      context_window_fallbacks: [{ fast: ['long', 'long'] }, { fast: ['quality'] }, { '*': ['long'] }],
      content_policy_fallbacks: [{ quality: ['long', 'quality'] }],
    });
    expect(config.settings.contextWindowFallbacks).toEqual(
      new Map([
        ['fast', ['long']],
        ['quality', ['long']],
      ]),
    );
    expect(config.settings.contentPolicyFallbacks).toEqual(new Map([['quality', ['long']]]));
    expect(config.settings.fallbacks).toEqual(new Map()); // default_fallbacks is for ordinary fallbacks only
  });
});

describe('a fallback naming an unknown group stops start-up, naming the field', () => {
  it.each([
    [{ fallbacks: [{ quality: ['fastest'] }] }, 'router_settings.fallbacks[0].quality', 'fastest'],
    [{ fallbacks: [{ qualty: ['fast'] }] }, 'router_settings.fallbacks[0].qualty', 'qualty'],
    [{ fallbacks: [{ '*': ['nope'] }] }, 'router_settings.fallbacks[0].*', 'nope'],
    [{ default_fallbacks: ['fast', 'slow'] }, 'router_settings.default_fallbacks[1]', 'slow'],
    [
      { context_window_fallbacks: [{}, { fast: ['huge'] }] },
      'router_settings.context_window_fallbacks[1].fast',
      'huge',
    ],
    [
      { content_policy_fallbacks: [{ quality: ['lax'] }] },
      'router_settings.content_policy_fallbacks[0].quality',
      'lax',
    ],
  ])('%j', (settings, path, group) => {
    expect(() => settingsOf(settings)).toThrow(ConfigError);
    expect(() => settingsOf(settings)).toThrow(
      `${path}: names unknown group "${group}"; known groups: fast, quality, long`,
    );
  });

  it('names litellm_settings when the list came from there', () => {
    const file = { model_list: MODELS, litellm_settings: { context_window_fallbacks: [{ fast: ['huge'] }] } };
    expect(() => buildConfig(file, {})).toThrow('litellm_settings.context_window_fallbacks[0].fast');
  });

  it('reports every unknown group at once', () => {
    expect(() =>
      settingsOf({ fallbacks: [{ quality: ['a'] }], content_policy_fallbacks: [{ quality: ['b'] }] }),
    ).toThrow(
      /fallbacks\[0\]\.quality: names unknown group "a".*\n.*content_policy_fallbacks\[0\]\.quality: names unknown group "b"/,
    );
  });
});
