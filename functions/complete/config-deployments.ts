// The model list's entries turned into deployments: ids, base URLs, keys, timeouts, prices, tiers and shares.
import type { FieldProblem } from '../common/field-problems.ts';
import type { Deployment, RoutingStrategy } from './config.ts';
import { ConfigError, httpUrl, type ParsedEntry } from './config-schema.ts';
import { literalProblem } from './config-environment.ts';
import { providerOfModel, type ProviderName } from './providers/registry.ts';
import type { ProviderDescriptor } from './providers/provider.ts';

/** The base-URL variable `name`, when set; like `api_base`, it must be an http(s) URL. */
function baseUrlFromEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const value = env[name]?.trim();
  if (!value) return undefined;
  if (!httpUrl.safeParse(value).success) {
    throw new ConfigError(`${name} must be an http:// or https:// URL (e.g. http://localhost:11434); fix or unset it`);
  }
  return value;
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
  entries: readonly ParsedEntry[],
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

/**
 * USD per token: each of the file's prices (`model_info` before `litellm_params`), the provider's known
 * price for what the file leaves out; undefined when neither gives one.
 */
function priceOf(entry: ParsedEntry, provider: ProviderDescriptor, model: string): Deployment['price'] {
  const known = provider.pricePerMTok(model);
  const input = entry.model_info?.input_cost_per_token ?? entry.litellm_params.input_cost_per_token;
  const output = entry.model_info?.output_cost_per_token ?? entry.litellm_params.output_cost_per_token;
  if (input === undefined && output === undefined)
    return known && { input: known.input / 1e6, output: known.output / 1e6 };
  return {
    input: input ?? (known ? known.input / 1e6 : 0),
    output: output ?? (known ? known.output / 1e6 : 0),
  };
}

export interface BuiltDeployments {
  deployments: Deployment[];
  problems: FieldProblem[];
  /** Share keys not acted on, by path. */
  ignored: string[];
}

/** The deployments of the (validated, `os.environ/`-resolved) model list, in configuration order. */
export function buildDeployments(
  entries: readonly ParsedEntry[],
  env: NodeJS.ProcessEnv,
  settings: { routingStrategy: RoutingStrategy; timeoutS: number },
  /** The variable each field was read from (`os.environ/NAME`), by path. */
  sources: ReadonlyMap<string, string> = new Map(),
): BuiltDeployments {
  const shuffle = shuffleShares(entries, settings.routingStrategy);
  const out: BuiltDeployments = { deployments: [], problems: [], ignored: shuffle.unused };
  const seen = new Map<string, number>();
  entries.forEach((entry, i) => {
    const params = entry.litellm_params;
    const rawId = entry.model_info?.id;
    const id = rawId === undefined ? params.model : String(rawId);
    if (seen.has(id)) {
      out.problems.push({
        field: `model_list[${i}].${rawId === undefined ? 'litellm_params.model' : 'model_info.id'}`,
        problem: `deployment id "${id}" is already used by model_list[${seen.get(id)}]; give each a distinct model_info.id`,
      });
      return;
    }
    seen.set(id, i);
    const { provider, model } = providerOfModel(params.model)!;
    const envName = params.api_key?.slice('os.environ/'.length);
    const base =
      params.api_base ??
      (provider.baseUrlVariable && baseUrlFromEnv(env, provider.baseUrlVariable)) ??
      provider.defaultBaseUrl ??
      '';
    const deployment: Deployment = {
      id,
      group: entry.model_name,
      provider: provider.name as ProviderName,
      model,
      apiBase: provider.normaliseBaseUrl ? provider.normaliseBaseUrl(base) : base,
      apiBaseFromFile: params.api_base !== undefined,
      key: envName
        ? { kind: 'env', name: envName, value: env[envName]?.trim() || undefined }
        : provider.credential
          ? { kind: 'default' }
          : { kind: 'none' },
      timeoutMs: Math.round((params.timeout ?? settings.timeoutS) * 1000),
      price: priceOf(entry, provider, model),
      order: params.order ?? 1,
      weight: shuffle.shares[i],
      params: {
        ...(params.aws_region_name !== undefined && { region: params.aws_region_name }),
        ...(params.api_version !== undefined && { apiVersion: params.api_version }),
      },
    };
    for (const key of provider.literalParams ?? []) {
      const field = `model_list[${i}].litellm_params.${key}`;
      const variable = sources.get(field);
      if (variable !== undefined) {
        out.problems.push({ field, problem: literalProblem(variable) });
      }
    }
    const check = provider.check?.(deployment);
    if (check) out.problems.push({ field: `model_list[${i}].litellm_params.${check.field}`, problem: check.problem });
    out.deployments.push(deployment);
  });
  return out;
}
