// LLM_CONFIG files written to hurt: prototype-named groups, non-HTTP base URLs, and syntax errors that must not
// quote the file (it may hold secrets) but say where to look.
import { describe, expect, it } from 'vitest';
import {
  buildConfig,
  ConfigError,
  DEFAULT_CONFIG_FILE,
  loadConfigFile,
  loadRouterConfig,
} from '../../functions/complete/config.ts';
import { captureDuring } from '../helpers/log-capture.ts';
import { useTempFolder } from '../helpers/temp-files.ts';

const { file } = useTempFolder('konstruct-config-hostile-');

/** What `loadConfigFile` threw, as a ConfigError. */
function loadError(path: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    loadConfigFile(path, env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  return expect.fail('the file was accepted');
}

const MARKER = 'sk-SECRET-MARKER-4242';

describe('group names are any string, prototype names included', () => {
  it('keeps constructor, __proto__ and toString as groups and fallbacks (JSON)', () => {
    const json = `{
      "model_list": [
        { "model_name": "constructor", "litellm_params": { "model": "openai/gpt-4o" } },
        { "model_name": "__proto__", "litellm_params": { "model": "ollama/qwen3:8b" } },
        { "model_name": "toString", "litellm_params": { "model": "anthropic/claude-sonnet-4-20250514" } }
      ],
      "router_settings": { "fallbacks": [{ "__proto__": ["constructor"] }, { "constructor": ["toString", "__proto__"] }] }
    }`;
    const { config, ignoredKeys } = loadConfigFile(file('protos.json', json), {});
    expect([...config.groups.keys()]).toEqual(['constructor', '__proto__', 'toString']);
    expect(config.settings.fallbacks).toEqual(
      new Map([
        ['__proto__', ['constructor']],
        ['constructor', ['toString', '__proto__']],
      ]),
    );
    expect(config.settings.fallbacks.has('toString')).toBe(false);
    expect(ignoredKeys).toEqual([]);
  });

  it('keeps them from YAML too, and refuses a fallback from one to an unknown group', () => {
    const yaml =
      'model_list:\n  - model_name: __proto__\n    litellm_params: { model: ollama/qwen3:8b }\nrouter_settings:\n  fallbacks: [{ __proto__: [valueOf] }]\n';
    expect(loadError(file('protos.yaml', yaml)).message).toContain(
      'router_settings.fallbacks[0].__proto__: names unknown group "valueOf"',
    );
  });

  it('names a fallbacks entry that is not a map of lists by its path', () => {
    const config = structuredClone(DEFAULT_CONFIG_FILE) as unknown as { router_settings: Record<string, unknown> };
    config.router_settings.fallbacks = [{ quality: 'fast' }];
    expect(() => buildConfig(config, {})).toThrow(
      'router_settings.fallbacks[0].quality: must be a list of group names',
    );
  });

  it('warns about a top-level key named like an Object method instead of ignoring it silently', () => {
    const config = { ...structuredClone(DEFAULT_CONFIG_FILE), constructor: 1, toString: 2 };
    expect(buildConfig(config, {}).ignoredKeys).toEqual(['constructor', 'toString']);
  });
});

describe('base URLs must be http(s)', () => {
  it.each(['file:///etc/passwd', 'data:text/plain,hi', 'ftp://example.com/', 'javascript:alert(1)'])(
    'refuses api_base %s, naming the field',
    (url) => {
      const config = structuredClone(DEFAULT_CONFIG_FILE) as unknown as {
        model_list: { litellm_params: Record<string, unknown> }[];
      };
      config.model_list[2]!.litellm_params.api_base = url;
      expect(() => buildConfig(config, {})).toThrow(ConfigError);
      expect(() => buildConfig(config, {})).toThrow(
        'model_list[2].litellm_params.api_base: must be an http:// or https:// URL',
      );
    },
  );

  it('accepts http and https', () => {
    const config = structuredClone(DEFAULT_CONFIG_FILE);
    config.model_list[0]!.litellm_params.api_base = 'http://10.0.1.5:11434';
    config.model_list[2]!.litellm_params.api_base = 'https://api.example.com/v1';
    expect(buildConfig(config, {}).config.deployments.map((d) => d.apiBase)).toEqual([
      'http://10.0.1.5:11434',
      'https://api.anthropic.com',
      'https://api.example.com/v1',
    ]);
  });

  it.each(['OLLAMA_BASE_URL', 'ANTHROPIC_BASE_URL', 'OPENAI_BASE_URL'])(
    'refuses %s that is not http(s), naming the variable',
    (name) => {
      expect(() => loadRouterConfig({ [name]: 'file:///var/run/secret' })).toThrow(
        new RegExp(`^${name} must be an http:// or https:// URL`),
      );
    },
  );
});

describe('a file that does not parse is reported by line and column, never by content', () => {
  const JSON_CASES: [string, string, number, number][] = [
    [
      'a trailing comma',
      `{\n  "model_list": [],\n  "router_settings": { "num_retries": 2, "api_key": "${MARKER}", }\n}\n`,
      3,
      78,
    ],
    ['an unquoted value', `{\n  "model_list": [\n    { "model_name": ${MARKER} }\n  ]\n}`, 3, 21],
    ['a missing colon', `{ "model_list" [{ "model_name": "${MARKER}" }] }`, 1, 16],
    ['an unterminated string', `{\n"model_list": "${MARKER}`, 2, 37],
    ['a raw newline in a string', `{"a": "${MARKER}\n"}`, 1, 29],
    ['trailing text', `{"model_list": []} ${MARKER}`, 1, 20],
    ['a lone byte-order mark before garbage', `\uFEFF${MARKER}`, 1, 1],
  ];
  it.each(JSON_CASES)('JSON with %s', (_name, text, line, column) => {
    const { message } = loadError(file('bad.json', text));
    expect(message).toContain(`is not valid JSON: syntax error at line ${line}, column ${column}`);
    expect(message).not.toContain(MARKER);
    expect(message).not.toContain('model_list');
  });

  const YAML_CASES: [string, string, number, number][] = [
    ['an unterminated quote', `model_list:\n  - model_name: "${MARKER}\nrouter_settings: {}\n`, 4, 1],
    ['a bad indent', `model_list:\n  - model_name: fast\n litellm_params: ${MARKER}\n`, 3, 1],
    ['a tab as indent', `model_list:\n\t- ${MARKER}\n`, 2, 1],
    ['a duplicate key', `model_list: []\nmodel_list: ${MARKER}\n`, 2, 1],
  ];
  it.each(YAML_CASES)('YAML with %s', (_name, text, line, column) => {
    const { message } = loadError(file('bad.yaml', text));
    expect(message).toContain(`is not valid YAML: syntax error at line ${line}, column ${column}`);
    expect(message).not.toContain(MARKER);
    expect(message).not.toContain('model_list');
  });

  it('YAML with an alias to no anchor: refused without naming it', () => {
    const { message } = loadError(file('alias.yml', `model_list: *${MARKER}\n`));
    expect(message).toMatch(/is not valid YAML/);
    expect(message).not.toContain(MARKER);
  });

  it('prints nothing of a YAML file while loading it (the yaml package warns with the source line)', async () => {
    const yaml = `model_list:\n  - model_name: fast\n    litellm_params: { model: !${MARKER} ollama/qwen3:8b }\n`;
    const output = await captureDuring(async () => loadConfigFile(file('tagged.yaml', yaml), {}));
    expect(output.text()).not.toContain(MARKER);
  });
});
