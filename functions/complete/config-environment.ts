// `os.environ/NAME` in `litellm_params`, resolved at load as LiteLLM does, so nothing past loading sees a reference.
import type { FieldProblem } from '../common/field-problems.ts';
import { ENV_REF, litellmParams } from './config-schema.ts';
import { providerOfModel } from './providers/registry.ts';

/** The keys whose `os.environ/` values are resolved here; `api_key` is not one (credentials.ts reads keys). */
const RESOLVED_KEYS = Object.keys(litellmParams.shape).filter((key) => key !== 'api_key');

export interface ResolvedEnvironment {
  /** The file with each reference replaced by its value (a copy: the input is not changed). */
  raw: unknown;
  /** Each reference to a variable that is not set, by its field. */
  problems: FieldProblem[];
  /** The variables read, by name: what must be set wherever the file is used. */
  environment: Record<string, string>;
  /** The variable each resolved field came from, by field path: an error about the value names it. */
  sources: Map<string, string>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Replaces `os.environ/NAME` in every known string value of `litellm_params` except `api_key` by the
 * variable's value. Unknown keys are left alone: they are ignored, and their variables need not be set.
 */
export function resolveEnvironment(raw: unknown, env: NodeJS.ProcessEnv): ResolvedEnvironment {
  const out: ResolvedEnvironment = { raw, problems: [], environment: {}, sources: new Map() };
  if (!isObject(raw) || !Array.isArray(raw.model_list)) return out;
  const modelList = raw.model_list.map((entry: unknown, i) => {
    if (!isObject(entry) || !isObject(entry.litellm_params)) return entry;
    const params = { ...entry.litellm_params };
    // Keys its provider needs written as they are (Bedrock's region): said first, set or not, so one fix does.
    const literal =
      typeof params.model === 'string' ? providerOfModel(params.model)?.provider.literalParams : undefined;
    for (const key of RESOLVED_KEYS) {
      const value = params[key];
      const name = typeof value === 'string' ? ENV_REF.exec(value)?.[1] : undefined;
      if (name === undefined) continue;
      const field = `model_list[${i}].litellm_params.${key}`;
      if (literal?.includes(key)) {
        out.problems.push({ field, problem: literalProblem(name) });
        delete params[key];
        continue;
      }
      const resolved = env[name]?.trim();
      if (resolved) {
        params[key] = resolved;
        out.environment[name] = resolved;
        out.sources.set(field, name);
      } else {
        out.problems.push({ field, problem: `os.environ/${name} is not set; set the variable or write the value` });
        delete params[key]; // reported once, here, not again as a bad value
      }
    }
    return { ...entry, litellm_params: params };
  });
  out.raw = { ...raw, model_list: modelList };
  return out;
}

/** Why a key its provider needs literally may not be a reference. */
export function literalProblem(variable: string): string {
  return `must be written as it is, not os.environ/${variable}: the stack scopes its permissions to it`;
}
