// The shape of LiteLLM's proxy-config file as this router reads it: a zod schema, and the keys outside it.
import * as z from 'zod';
import { fieldPath } from '../common/field-problems.ts';
import { MODEL_PREFIXES, providerOfModel } from './providers/registry.ts';

/** A configuration that cannot start the router; the message names the field's path. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

export const ROUTING_STRATEGIES = [
  'latency-based-routing',
  'simple-shuffle',
  'least-busy',
  'cost-based-routing',
] as const;

const LIST_EACH_MODEL =
  'is a wildcard: list each model as its own entry (a literal "*" would be sent to the provider and fail at call time)';

/** Why a `litellm_params.model` cannot be served, or undefined when a provider of the registry serves it. */
export function modelProblem(model: string): string | undefined {
  if (model.includes('*')) return LIST_EACH_MODEL;
  const accepted = `use one of ${MODEL_PREFIXES.join(', ')}`;
  const found = providerOfModel(model);
  if (found) return found.model ? undefined : `must name a model after "${model}" (e.g. ${model}<model name>)`;
  const slash = model.indexOf('/');
  if (slash > 0) return `provider "${model.slice(0, slash)}" is not supported; ${accepted}`;
  return `must start with its provider's prefix (e.g. openai/${model}); ${accepted}`;
}

const modelRef = z.string().superRefine((model, ctx) => {
  const problem = modelProblem(model);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});
const groupName = z
  .string()
  .min(1)
  .max(128)
  .refine((name) => !name.includes('*'), { message: LIST_EACH_MODEL });

/** `os.environ/NAME`, the only form an `api_key` may take. */
export const ENV_REF = /^os\.environ\/([A-Za-z_][A-Za-z0-9_]*)$/;
const apiKeyRef = z
  .string()
  .regex(ENV_REF, { message: 'must be os.environ/NAME (keys are never written in the file)' });

/** Base URLs the provider clients can call: anything else (`file:`, `data:`…) is refused at start-up. */
export const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

/** Seconds an attempt may take: fractions allowed, as LiteLLM's float `timeout`. */
const timeoutSeconds = z.number().min(0.1).max(900);
const price = z.number().min(0);

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
const fallbackList = z.array(fallbackEntry);

export const litellmParams = z.object({
  model: modelRef,
  api_base: httpUrl.optional(),
  api_key: apiKeyRef.optional(),
  api_version: z.string().min(1).max(64).optional(),
  aws_region_name: z.string().min(1).max(64).optional(),
  timeout: timeoutSeconds.optional(),
  weight: z.number().positive().max(1e6).optional(),
  rpm: z.number().int().positive().max(1e9).optional(),
  tpm: z.number().int().positive().max(1e12).optional(),
  order: z.number().int().min(1).max(1000).optional(),
  input_cost_per_token: price.optional(),
  output_cost_per_token: price.optional(),
});
const modelInfo = z.object({
  id: z.union([z.string().min(1).max(256), z.number().finite()]).optional(),
  input_cost_per_token: price.optional(),
  output_cost_per_token: price.optional(),
});
const modelEntry = z.object({
  model_name: groupName,
  litellm_params: litellmParams,
  model_info: modelInfo.nullish(), // an empty YAML section is null: as LiteLLM reads it, none
});

/** The settings LiteLLM's router reads from `router_settings` and from `litellm_settings` alike. */
const sharedSettings = {
  num_retries: z.number().int().min(0).max(10).optional(),
  fallbacks: fallbackList.optional(),
  default_fallbacks: z.array(z.string()).optional(),
  context_window_fallbacks: fallbackList.optional(),
  content_policy_fallbacks: fallbackList.optional(),
  allowed_fails: z.number().int().min(0).max(100).optional(),
  cooldown_time: z.number().min(0).max(3600).optional(),
};
const routerSettings = z.object({
  routing_strategy: z.enum(ROUTING_STRATEGIES).optional(),
  ...sharedSettings,
  timeout: timeoutSeconds.optional(),
});
/** `litellm_settings` names the default timeout `request_timeout`; its other keys are not the router's. */
const litellmSettings = z.object({ ...sharedSettings, request_timeout: timeoutSeconds.optional() });

/** The LiteLLM proxy-config file; keys outside this schema are warned about, not errors. */
export const configFileSchema = z.object({
  model_list: z.array(modelEntry).min(1),
  router_settings: routerSettings.nullish(),
  litellm_settings: litellmSettings.nullish(),
});
/** The file as written (fallback entries as objects); `z.input`, since parsing turns them into Maps. */
export type ConfigFile = z.input<typeof configFileSchema>;
export type ParsedConfigFile = z.output<typeof configFileSchema>;
export type ParsedEntry = ParsedConfigFile['model_list'][number];

/** Keys of `value` that `schema` does not name, as paths (e.g. `model_list[0].litellm_params.rpm`). */
export function unknownKeys(schema: z.ZodType, value: unknown, path: PropertyKey[] = []): string[] {
  let inner: z.ZodType = schema;
  while (inner instanceof z.ZodOptional || inner instanceof z.ZodNullable || inner instanceof z.ZodDefault)
    inner = inner.unwrap() as z.ZodType;
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
