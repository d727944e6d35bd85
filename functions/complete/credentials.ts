// Provider API keys: from the environment locally, from a Secrets Manager JSON secret (cached, TTL 5 min) in AWS.
import type { Deployment, ProviderName } from './config.ts';
import { secretsManagerReader, type SecretReader } from '../common/secrets.ts';

export const SECRET_TTL_S = 300;

type DefaultKeys = Partial<Record<ProviderName, string>>;

/** The fields of the provider secret, `{ "anthropic_api_key", "openai_api_key" }`. */
const SECRET_FIELDS: Record<string, ProviderName> = {
  anthropic_api_key: 'anthropic',
  openai_api_key: 'openai',
  ollama_api_key: 'ollama',
};

export interface Credentials {
  /** The key a deployment uses now: a string, `null` when it needs none, `undefined` when missing. */
  keyFor(deployment: Deployment): string | null | undefined;
  /** Brings the secret up to date when its cached copy is older than the TTL; never throws. */
  refresh(): Promise<void>;
  /** Where the default keys come from, for start-up messages. */
  readonly source: string;
}

function keyFrom(deployment: Deployment, defaults: DefaultKeys): string | null | undefined {
  switch (deployment.key.kind) {
    case 'none':
      return null;
    case 'env':
      return deployment.key.value;
    case 'default':
      return defaults[deployment.provider] || undefined;
  }
}

/** Keys from `ANTHROPIC_API_KEY` / `OPENAI_API_KEY`. */
export function environmentCredentials(env: NodeJS.ProcessEnv): Credentials {
  const defaults: DefaultKeys = {
    anthropic: env.ANTHROPIC_API_KEY?.trim() || undefined,
    openai: env.OPENAI_API_KEY?.trim() || undefined,
  };
  return { keyFor: (d) => keyFrom(d, defaults), refresh: async () => {}, source: 'environment' };
}

/** Keys from the JSON secret `arn`; until the first read succeeds, deployments that need a default key are unavailable. */
export function secretCredentials(arn: string, secrets: SecretReader, onError?: (err: unknown) => void): Credentials {
  let defaults: DefaultKeys = {};
  return {
    keyFor: (d) => keyFrom(d, defaults),
    source: 'Secrets Manager (PROVIDER_SECRET_ARN)',
    async refresh() {
      try {
        const value = await secrets.readJson(arn);
        const next: DefaultKeys = {};
        for (const [field, provider] of Object.entries(SECRET_FIELDS)) {
          const key = value[field];
          if (typeof key === 'string' && key.trim()) next[provider] = key.trim();
        }
        defaults = next;
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
