// The router's configuration: LiteLLM's proxy-config shape, validated once at start-up into model groups.
import { readFileSync } from 'node:fs';
import * as z from 'zod';
import { ConfigSyntaxError, parseConfigText } from './config-text.ts';
import { fieldPath, issueLines } from '../common/field-problems.ts';
import { MODEL_PREFIXES, providerOfModel, type ProviderName } from './providers/registry.ts';

export type { ProviderName };
export type RoutingStrategy = 'latency-based-routing' | 'simple-shuffle' | 'least-busy' | 'cost-based-routing';

/** Where a deployment's API key comes from. */
export type KeySource =
  | { kind: 'none' } // Ollama needs no key
  | { kind: 'default' } // the provider's default variable locally, its field of the provider secret in AWS
  | { kind: 'env'; name: string; value: string | undefined }; // `os.environ/NAME`, read at start-up

export interface Deployment {
  /** Unique id: `litellm_params.model` (e.g. `anthropic/claude-sonnet-4-20250514`) or `model_info.id`. */
  id: string;
  group: string;
  provider: ProviderName;
  /** The model name the provider's API expects (the id without its provider prefix). */
  model: string;
  /** `api_base`, else the provider's *_BASE_URL variable, else its default base URL; `''` when it has none (Bedrock). */
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

export interface RouterSettings {
  routingStrategy: RoutingStrategy;
  numRetries: number;
  allowedFails: number;
  cooldownMs: number;
  /** Group → its fallback groups, in order. A Map: group names such as `constructor` are ordinary names. */
  fallbacks: Map<string, string[]>;
}

export interface RouterConfig {
  deployments: Deployment[];
  /** Group name → its deployments, in configuration order. */
  groups: Map<string, Deployment[]>;
  settings: RouterSettings;
}

/** A configuration that cannot start the router; the message names the field's path. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

const modelRef = z.string().refine((m) => !!providerOfModel(m)?.model, {
  message: `must start with ${MODEL_PREFIXES.slice(0, -1).join(', ')} or ${MODEL_PREFIXES.at(-1)} followed by the model name`,
});
const apiKeyRef = z.string().regex(/^os\.environ\/[A-Za-z_][A-Za-z0-9_]*$/, {
  message: 'must be os.environ/NAME (keys are never written in the file)',
});

/** Base URLs the provider clients can call: anything else (`file:`, `data:`…) is refused at start-up. */
const HTTP_URL = /^https?$/;
const httpUrl = z.url({ protocol: HTTP_URL, error: 'must be an http:// or https:// URL' });

/**
 * One fallbacks entry, `{ group: [fallback groups] }`, read into a Map: a zod record would drop a
 * `__proto__` key, and a plain object would make `constructor` an inherited entry.
 */
const fallbackEntry = z
  .custom<Record<string, string[]>>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
    message: 'must map a group to a list of fallback groups, e.g. { quality: [fast] }',
  })
  .transform((entry, ctx) => {
    const out = new Map<string, string[]>();
    for (const [group, targets] of Object.entries(entry) as [string, unknown][]) {
      if (Array.isArray(targets) && targets.every((t) => typeof t === 'string')) out.set(group, targets);
      else ctx.addIssue({ code: 'custom', path: [group], message: 'must be a list of group names' });
    }
    return out;
  });

const litellmParams = z.object({
  model: modelRef,
  api_base: httpUrl.optional(),
  api_key: apiKeyRef.optional(),
  timeout: z.number().min(1).max(900).optional(),
  weight: z.number().positive().max(1e6).optional(),
  rpm: z.number().int().positive().max(1e9).optional(),
  tpm: z.number().int().positive().max(1e12).optional(),
  order: z.number().int().min(1).max(1000).optional(),
});
const modelInfo = z.object({
  id: z.string().min(1).max(256).optional(),
  input_cost_per_token: z.number().min(0).optional(),
  output_cost_per_token: z.number().min(0).optional(),
});
const modelEntry = z.object({
  model_name: z.string().min(1).max(128),
  litellm_params: litellmParams,
  model_info: modelInfo.optional(),
});
const routerSettings = z.object({
  routing_strategy: z.enum(['latency-based-routing', 'simple-shuffle', 'least-busy', 'cost-based-routing']).optional(),
  num_retries: z.number().int().min(0).max(10).optional(),
  fallbacks: z.array(fallbackEntry).optional(),
  allowed_fails: z.number().int().min(0).max(100).optional(),
  cooldown_time: z.number().min(0).max(3600).optional(),
  timeout: z.number().min(1).max(900).optional(),
});
/** The LiteLLM proxy-config file; keys outside this schema are warned about, not errors. */
export const configFileSchema = z.object({
  model_list: z.array(modelEntry).min(1),
  router_settings: routerSettings.optional(),
});
/** The file as written (fallback entries as objects); `z.input`, since parsing turns them into Maps. */
export type ConfigFile = z.input<typeof configFileSchema>;

/** The built-in defaults, in the same shape as a configuration file. */
export const DEFAULT_CONFIG_FILE: ConfigFile = {
  model_list: [
    { model_name: 'fast', litellm_params: { model: 'ollama/qwen3:8b' } },
    { model_name: 'quality', litellm_params: { model: 'anthropic/claude-sonnet-4-20250514' } },
    { model_name: 'quality', litellm_params: { model: 'openai/gpt-4o' } },
  ],
  router_settings: {
    routing_strategy: 'latency-based-routing',
    num_retries: 2,
    fallbacks: [{ quality: ['fast'] }],
    allowed_fails: 3,
    cooldown_time: 30,
    timeout: 60,
  },
};

/** The base-URL variable `name`, when set; like `api_base`, it must be an http(s) URL. */
function baseUrlFromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  if (!httpUrl.safeParse(value).success) {
    throw new ConfigError(`${name} must be an http:// or https:// URL (e.g. http://localhost:11434); fix or unset it`);
  }
  return value;
}

/** Keys of `value` that `schema` does not name, as paths (e.g. `model_list[0].litellm_params.rpm`). */
export function unknownKeys(schema: z.ZodType, value: unknown, path: PropertyKey[] = []): string[] {
  let inner: z.ZodType = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodDefault) inner = inner.unwrap() as z.ZodType;
  if (inner instanceof z.ZodObject && value && typeof value === 'object' && !Array.isArray(value)) {
    const shape = inner.shape as Record<string, z.ZodType>;
    return Object.entries(value).flatMap(([key, child]) =>
      Object.hasOwn(shape, key) ? unknownKeys(shape[key]!, child, [...path, key]) : [fieldPath([...path, key])],
    );
  }
  if (inner instanceof z.ZodArray && Array.isArray(value)) {
    return value.flatMap((item, i) => unknownKeys(inner.element as z.ZodType, item, [...path, i]));
  }
  return [];
}

/** The keys simple-shuffle weighs deployments by, in LiteLLM's order of precedence. */
const SHARE_KEYS = ['weight', 'rpm', 'tpm'] as const;

/**
 * Each entry's share under simple-shuffle, and the paths of share keys not acted on. A group shares by
 * the first of `weight`, `rpm`, `tpm` that any of its deployments sets (LiteLLM looks only at its first
 * deployment; any one is the order-independent reading), and an entry without that key gets none, as
 * in LiteLLM. Under another strategy no share key is acted on.
 */
function shuffleShares(
  entries: readonly { model_name: string; litellm_params: Partial<Record<(typeof SHARE_KEYS)[number], number>> }[],
  strategy: RoutingStrategy,
): { shares: (number | undefined)[]; unused: string[] } {
  const groupKey = new Map<string, (typeof SHARE_KEYS)[number]>();
  if (strategy === 'simple-shuffle') {
    for (const key of SHARE_KEYS) {
      for (const e of entries) {
        if (!groupKey.has(e.model_name) && e.litellm_params[key] !== undefined) groupKey.set(e.model_name, key);
      }
    }
  }
  const unused: string[] = [];
  const shares = entries.map((e, i) => {
    const used = groupKey.get(e.model_name);
    for (const key of SHARE_KEYS) {
      if (key !== used && e.litellm_params[key] !== undefined) unused.push(`model_list[${i}].litellm_params.${key}`);
    }
    return used === undefined ? undefined : (e.litellm_params[used] ?? 0);
  });
  return { shares, unused };
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

/** Validates a configuration object and builds the router's model groups. */
export function buildConfig(raw: unknown, env: NodeJS.ProcessEnv, source = 'configuration'): LoadedConfig {
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(`${source} is invalid:\n  - ${issueLines(parsed.error).join('\n  - ')}`);
  }
  const file = parsed.data;
  const settings = file.router_settings ?? {};
  const defaults = DEFAULT_CONFIG_FILE.router_settings!;
  const defaultTimeoutS = settings.timeout ?? defaults.timeout!;
  const routingStrategy = settings.routing_strategy ?? defaults.routing_strategy!;
  const shuffle = shuffleShares(file.model_list, routingStrategy);

  const deployments: Deployment[] = [];
  const seen = new Map<string, number>();
  file.model_list.forEach((entry, i) => {
    const { model, api_base, api_key, timeout } = entry.litellm_params;
    const id = entry.model_info?.id ?? model;
    if (seen.has(id)) {
      throw new ConfigError(
        `${source} is invalid:\n  - model_list[${i}].litellm_params.model: deployment id "${id}" is already used by model_list[${seen.get(id)}]; give each a distinct model_info.id`,
      );
    }
    seen.set(id, i);
    const { provider, model: providerModel } = providerOfModel(model)!;
    const info = entry.model_info;
    const known = provider.pricePerMTok(providerModel);
    const price =
      info?.input_cost_per_token !== undefined || info?.output_cost_per_token !== undefined
        ? { input: info.input_cost_per_token ?? 0, output: info.output_cost_per_token ?? 0 }
        : known && { input: known.input / 1e6, output: known.output / 1e6 };
    const envName = api_key?.slice('os.environ/'.length);
    deployments.push({
      id,
      group: entry.model_name,
      provider: provider.name,
      model: providerModel,
      apiBase: api_base ?? baseUrlFromEnv(env, provider.baseUrlVariable) ?? provider.defaultBaseUrl ?? '',
      apiBaseFromFile: api_base !== undefined,
      key: envName
        ? { kind: 'env', name: envName, value: env[envName] || undefined }
        : provider.credential
          ? { kind: 'default' }
          : { kind: 'none' },
      timeoutMs: (timeout ?? defaultTimeoutS) * 1000,
      price,
      order: entry.litellm_params.order ?? 1,
      weight: shuffle.shares[i],
      params: {},
    });
  });

  const groups = new Map<string, Deployment[]>();
  for (const d of deployments) groups.set(d.group, [...(groups.get(d.group) ?? []), d]);

  const fallbacks = new Map<string, string[]>();
  // Omitted fallbacks take the default chain wherever its groups exist in this file.
  const fallbackList =
    settings.fallbacks ??
    defaults
      .fallbacks!.map((entry) => new Map(Object.entries(entry)))
      .filter((entry) => [...entry].every(([g, t]) => groups.has(g) && t.every((x) => groups.has(x))));
  fallbackList.forEach((entry, i) => {
    for (const [group, targets] of entry) {
      const unknown = [group, ...targets].find((name) => !groups.has(name));
      if (unknown !== undefined) {
        throw new ConfigError(
          `${source} is invalid:\n  - router_settings.fallbacks[${i}].${group}: names unknown group "${unknown}"; known groups: ${[...groups.keys()].join(', ')}`,
        );
      }
      fallbacks.set(group, [...(fallbacks.get(group) ?? []), ...targets.filter((t) => t !== group)]);
    }
  });

  return {
    config: {
      deployments,
      groups,
      settings: {
        routingStrategy,
        numRetries: settings.num_retries ?? defaults.num_retries!,
        allowedFails: settings.allowed_fails ?? defaults.allowed_fails!,
        cooldownMs: (settings.cooldown_time ?? defaults.cooldown_time!) * 1000,
        fallbacks,
      },
    },
    ignoredKeys: [...unknownKeys(configFileSchema, raw), ...shuffle.unused],
    environment: {},
  };
}

/** The configuration `complete` runs with: `LLM_CONFIG` when set, else the built-in defaults. */
export function loadRouterConfig(env: NodeJS.ProcessEnv): LoadedConfig {
  const path = env.LLM_CONFIG?.trim();
  if (path) return loadConfigFile(path, env);
  return buildConfig(DEFAULT_CONFIG_FILE, env, 'built-in configuration');
}
