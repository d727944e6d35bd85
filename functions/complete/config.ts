// The router's configuration: LiteLLM's proxy-config shape, validated once at start-up into model groups.
import { readFileSync } from 'node:fs';
import { describeIssues, type FieldProblem } from '../common/field-problems.ts';
import { buildDeployments } from './config-deployments.ts';
import { resolveEnvironment } from './config-environment.ts';
import { resolveFallbacks, type FallbackSource } from './config-fallbacks.ts';
import {
  ConfigError,
  configFileSchema,
  unknownKeys,
  type ConfigFile,
  type ParsedConfigFile,
  type ROUTING_STRATEGIES,
} from './config-schema.ts';
import { ConfigSyntaxError, parseConfigText } from './config-text.ts';
import type { ProviderName } from './providers/registry.ts';

export { ConfigError, configFileSchema, unknownKeys, type ConfigFile };
export type { ProviderName };
export type RoutingStrategy = (typeof ROUTING_STRATEGIES)[number];

/** Where a deployment's API key comes from. */
export type KeySource =
  | { kind: 'none' } // Ollama needs no key
  | { kind: 'default' } // the provider's default variable locally, its field of the provider secret in AWS
  /** `os.environ/NAME`: the variable, read at start-up; else the provider secret's field `name` lower-cased. */
  | { kind: 'env'; name: string; value: string | undefined };

export interface Deployment {
  /** Unique id: `litellm_params.model` (e.g. `anthropic/claude-sonnet-4-20250514`) or `model_info.id`. */
  id: string;
  group: string;
  provider: ProviderName;
  /** The model name the provider's API expects (the id without its provider prefix). */
  model: string;
  /** `api_base`, else the provider's *_BASE_URL variable, else its default base URL. */
  apiBase: string;
  /** `api_base` came from the configuration (for `openai/`: an OpenAI-compatible server), not a variable or the default. */
  apiBaseFromFile: boolean;
  key: KeySource;
  /** Per-attempt timeout. */
  timeoutMs: number;
  /** USD per token, or undefined when the price is unknown. */
  price: { input: number; output: number } | undefined;
  /** Its tier (`order`, default 1): a higher tier is tried only when every lower one failed or is unavailable. */
  order: number;
  /**
   * Its share under simple-shuffle: `weight`, else `rpm`, else `tpm`, whichever its group uses (0 when
   * the group uses one it does not set); undefined under other strategies or when the group sets none.
   */
  weight: number | undefined;
  /** Provider-specific `litellm_params` (Bedrock's region, Azure's API version), read generically; each provider uses its own. */
  params: DeploymentParams;
}

/** The `litellm_params` only some providers use; `os.environ/` values already resolved. */
export interface DeploymentParams {
  /** `aws_region_name` (Bedrock). */
  region?: string;
  /** `api_version` (Azure OpenAI). */
  apiVersion?: string;
}

/**
 * The router's settings, each from `router_settings`, else `litellm_settings`, else this product's default.
 * Fallback maps are resolved at load: a group's entry is the first one naming it, `default_fallbacks` (or
 * a `"*"` entry) is already folded into `fallbacks` for every group without an entry of its own, each
 * target appears once and never the group itself; a group without fallbacks has no key.
 */
export interface RouterSettings {
  routingStrategy: RoutingStrategy;
  numRetries: number;
  allowedFails: number;
  cooldownMs: number;
  /** Group → its fallback groups, in order. A Map: group names such as `constructor` are ordinary names. */
  fallbacks: Map<string, string[]>;
  /** Group → the groups that run instead of `fallbacks` when the group failed because the request was too long. */
  contextWindowFallbacks: Map<string, string[]>;
  /** Group → the groups asked when the group's answer was a refusal (`content_filter`); the refusal stands if none answers. */
  contentPolicyFallbacks: Map<string, string[]>;
}

export interface RouterConfig {
  deployments: Deployment[];
  /** Group name → its deployments, in configuration order. */
  groups: Map<string, Deployment[]>;
  settings: RouterSettings;
}

export interface LoadedConfig {
  config: RouterConfig;
  /** Keys the file holds that the router does not act on; logged once at start-up. */
  ignoredKeys: string[];
  /**
   * The non-key `os.environ/NAME` values the file uses, by variable name, as read from the environment at
   * load time: the stack sets them on the function (keys come from the provider secret instead).
   */
  environment: Record<string, string>;
}

/** Reads and validates the file named by `LLM_CONFIG` (JSON, or YAML by extension). */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `LLM_CONFIG: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'}); set LLM_CONFIG to an existing JSON or YAML file, or unset it for the built-in defaults`,
    );
  }
  let raw: unknown;
  try {
    raw = parseConfigText(text, /\.ya?ml$/i.test(path));
  } catch (err) {
    if (!(err instanceof ConfigSyntaxError)) throw err;
    // Where, never what: the parsers' own messages quote the file, which may hold secrets.
    throw new ConfigError(
      `LLM_CONFIG: ${path} ${err.message}; fix the file there, or unset LLM_CONFIG for the built-in defaults`,
    );
  }
  return buildConfig(raw, env, `LLM_CONFIG (${path})`);
}

/** This product's value for each setting a file leaves out (README: where they differ from LiteLLM's). */
const DEFAULTS = {
  routingStrategy: 'latency-based-routing',
  numRetries: 2,
  allowedFails: 3,
  cooldownS: 30,
  timeoutS: 60,
} as const;

/** The built-in defaults, in the same shape as a configuration file. */
export const DEFAULT_CONFIG_FILE: ConfigFile = {
  model_list: [
    { model_name: 'fast', litellm_params: { model: 'ollama/qwen3:8b' } },
    { model_name: 'quality', litellm_params: { model: 'anthropic/claude-sonnet-4-20250514' } },
    { model_name: 'quality', litellm_params: { model: 'openai/gpt-4o' } },
  ],
  router_settings: {
    routing_strategy: DEFAULTS.routingStrategy,
    num_retries: DEFAULTS.numRetries,
    fallbacks: [{ quality: ['fast'] }],
    allowed_fails: DEFAULTS.allowedFails,
    cooldown_time: DEFAULTS.cooldownS,
    timeout: DEFAULTS.timeoutS,
  },
};

/** The keys LiteLLM's router also reads from `litellm_settings`, by their `router_settings` name. */
const SHARED_KEYS = [
  'num_retries',
  'fallbacks',
  'default_fallbacks',
  'context_window_fallbacks',
  'content_policy_fallbacks',
  'allowed_fails',
  'cooldown_time',
  'timeout',
] as const;
type SharedKey = (typeof SHARED_KEYS)[number];
type Settings = NonNullable<ParsedConfigFile['router_settings']>;

/**
 * Each shared setting with the section it came from: `router_settings` wins; `litellm_settings` (where
 * `timeout` is `request_timeout`) gives the rest. A `litellm_settings` key that lost is not acted on.
 */
function mergeSettings(file: ParsedConfigFile): {
  settings: Settings;
  from: Record<SharedKey, string>;
  overridden: string[];
} {
  const settings: Settings = { ...file.router_settings };
  const litellm = file.litellm_settings ?? {};
  const from = {} as Record<SharedKey, string>;
  const overridden: string[] = [];
  for (const key of SHARED_KEYS) {
    const litellmKey = key === 'timeout' ? 'request_timeout' : key;
    const value = litellm[litellmKey];
    from[key] = `router_settings.${key}`;
    if (value === undefined) continue;
    if (settings[key] !== undefined) overridden.push(`litellm_settings.${litellmKey}`);
    else {
      (settings as Record<SharedKey, unknown>)[key] = value;
      from[key] = `litellm_settings.${litellmKey}`;
    }
  }
  return { settings, from, overridden };
}

function invalid(source: string, problems: FieldProblem[]): ConfigError {
  return new ConfigError(
    `${source} is invalid:\n  - ${problems.map((p) => `${p.field}: ${p.problem}`).join('\n  - ')}`,
  );
}

/** Validates a configuration object and builds the router's model groups. */
export function buildConfig(raw: unknown, env: NodeJS.ProcessEnv, source = 'configuration'): LoadedConfig {
  const resolved = resolveEnvironment(raw, env);
  const parsed = configFileSchema.safeParse(resolved.raw);
  const unset = new Set(resolved.problems.map((p) => p.field));
  const schemaProblems = parsed.success
    ? []
    : describeIssues(parsed.error)
        .filter((p) => !unset.has(p.field))
        .map((p) => {
          const variable = resolved.sources.get(p.field);
          return variable ? { ...p, problem: `${p.problem} (read from os.environ/${variable})` } : p;
        });
  if (!parsed.success || resolved.problems.length > 0) {
    throw invalid(source, [...resolved.problems, ...schemaProblems]);
  }
  const file = parsed.data;
  const { settings, from, overridden } = mergeSettings(file);
  const routingStrategy = settings.routing_strategy ?? DEFAULTS.routingStrategy;
  const built = buildDeployments(
    file.model_list,
    env,
    {
      routingStrategy,
      timeoutS: settings.timeout ?? DEFAULTS.timeoutS,
    },
    resolved.sources,
  );

  const groups = new Map<string, Deployment[]>();
  for (const d of built.deployments) groups.set(d.group, [...(groups.get(d.group) ?? []), d]);
  const names = new Set(groups.keys());
  const list = (key: SharedKey & `${string}fallbacks`): FallbackSource => ({
    entries: settings[key] as FallbackSource['entries'],
    path: from[key],
  });
  const fallbacks = resolveFallbacks(
    list('fallbacks'),
    names,
    settings.default_fallbacks && { targets: settings.default_fallbacks, path: from.default_fallbacks },
  );
  const contextWindow = resolveFallbacks(list('context_window_fallbacks'), names);
  const contentPolicy = resolveFallbacks(list('content_policy_fallbacks'), names);
  const problems = [...built.problems, ...fallbacks.problems, ...contextWindow.problems, ...contentPolicy.problems];
  if (problems.length > 0) throw invalid(source, problems);

  return {
    config: {
      deployments: built.deployments,
      groups,
      settings: {
        routingStrategy,
        numRetries: settings.num_retries ?? DEFAULTS.numRetries,
        allowedFails: settings.allowed_fails ?? DEFAULTS.allowedFails,
        cooldownMs: Math.round((settings.cooldown_time ?? DEFAULTS.cooldownS) * 1000),
        fallbacks: fallbacks.byGroup,
        contextWindowFallbacks: contextWindow.byGroup,
        contentPolicyFallbacks: contentPolicy.byGroup,
      },
    },
    ignoredKeys: [
      ...unknownKeys(configFileSchema, raw),
      ...built.ignored,
      ...overridden,
      ...fallbacks.ignored,
      ...contextWindow.ignored,
      ...contentPolicy.ignored,
    ],
    environment: resolved.environment,
  };
}

/** The configuration `complete` runs with: `LLM_CONFIG` when set, else the built-in defaults. */
export function loadRouterConfig(env: NodeJS.ProcessEnv): LoadedConfig {
  const path = env.LLM_CONFIG?.trim();
  if (path) return loadConfigFile(path, env);
  return buildConfig(DEFAULT_CONFIG_FILE, env, 'built-in configuration');
}
