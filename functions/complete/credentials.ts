// Provider API keys: from the environment locally, from a Secrets Manager JSON secret (cached, TTL 5 min) in AWS.
import type { Deployment } from './config.ts';
import { PROVIDERS, type ProviderName } from './providers/registry.ts';
import { secretsManagerReader, type SecretReader } from '../common/secrets.ts';

export const SECRET_TTL_S = 300;

type DefaultKeys = Partial<Record<ProviderName, string>>;

/** Each provider that needs a key, with its field of the provider secret and its variable. */
const KEYED = PROVIDERS.flatMap((p) => (p.credential ? [{ name: p.name, ...p.credential }] : []));

export interface Credentials {
  /** The key a deployment uses now: a string, `null` when it needs none, `undefined` when missing. */
  keyFor(deployment: Deployment): string | null | undefined;
  /** Brings the secret up to date when its cached copy is older than the TTL; never throws. */
  refresh(): Promise<void>;
  /** Whether `refresh` can change anything: keys from the environment are read once, at start-up. */
  readonly refreshes: boolean;
  /** Where the default keys come from, for start-up messages. */
  readonly source: string;
}

/**
 * The key `deployment` uses: none, its provider's default, or for `os.environ/NAME` the variable read at
 * start-up, else the secret's field `name` lower-cased (so one file works locally and in AWS).
 */
function keyFrom(deployment: Deployment, defaults: DefaultKeys, secretField: (name: string) => string | undefined) {
  switch (deployment.key.kind) {
    case 'none':
      return null;
    case 'env':
      return deployment.key.value ?? secretField(deployment.key.name.toLowerCase());
    case 'default':
      return defaults[deployment.provider] || undefined;
  }
}

/** Keys from each provider's variable (`ANTHROPIC_API_KEY`, `OPENAI_API_KEY`…). */
export function environmentCredentials(env: NodeJS.ProcessEnv): Credentials {
  const defaults: DefaultKeys = {};
  for (const { name, variable } of KEYED) defaults[name] = env[variable]?.trim() || undefined;
  return {
    keyFor: (d) => keyFrom(d, defaults, () => undefined),
    refresh: async () => {},
    refreshes: false,
    source: 'environment',
  };
}

/** Keys from the JSON secret `arn`; until the first read succeeds, deployments that need a default key are unavailable. */
export function secretCredentials(arn: string, secrets: SecretReader, onError?: (err: unknown) => void): Credentials {
  let defaults: DefaultKeys = {};
  let fields = new Map<string, string>(); // every non-empty string field: `os.environ/NAME` keys read `name`
  return {
    keyFor: (d) => keyFrom(d, defaults, (name) => fields.get(name)),
    source: 'Secrets Manager (PROVIDER_SECRET_ARN)',
    refreshes: true,
    async refresh() {
      try {
        const value = await secrets.readJson(arn);
        const nextFields = new Map<string, string>();
        for (const [field, key] of Object.entries(value)) {
          if (typeof key === 'string' && key.trim()) nextFields.set(field, key.trim());
        }
        const next: DefaultKeys = {};
        for (const { name, secretField } of KEYED) next[name] = nextFields.get(secretField);
        defaults = next;
        fields = nextFields;
      } catch (err) {
        onError?.(err); // keep the last keys read: a Secrets Manager blip must not take providers down
      }
    },
  };
}

export function credentialsFromEnvironment(env: NodeJS.ProcessEnv, onError?: (err: unknown) => void): Credentials {
  const arn = env.PROVIDER_SECRET_ARN?.trim();
  return arn
    ? secretCredentials(arn, secretsManagerReader(env, SECRET_TTL_S * 1000), onError)
    : environmentCredentials(env);
}
