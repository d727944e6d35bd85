// Provider clients for deployments: created once per deployment and key, then reused (keep-alive).
import type { Deployment } from '../config.ts';
import { anthropicProvider } from './anthropic.ts';
import { ollamaProvider } from './ollama.ts';
import { openAiProvider } from './openai.ts';
import type { Provider } from './provider.ts';

export function createProvider(deployment: Deployment, key: string | null): Provider {
  switch (deployment.provider) {
    case 'anthropic':
      return anthropicProvider({ apiKey: key ?? '', baseURL: deployment.apiBase });
    case 'openai':
      return openAiProvider({ apiKey: key ?? '', baseURL: deployment.apiBase });
    case 'ollama':
      return ollamaProvider({ host: deployment.apiBase ?? 'http://localhost:11434', apiKey: key ?? undefined });
  }
}

/** A lookup that builds each deployment's client on first use and again only when its key changes. */
export function providerCache(create = createProvider): (deployment: Deployment, key: string | null) => Provider {
  const cache = new Map<string, { key: string | null; provider: Provider }>();
  return (deployment, key) => {
    const hit = cache.get(deployment.id);
    if (hit && hit.key === key) return hit.provider;
    const provider = create(deployment, key);
    cache.set(deployment.id, { key, provider });
    return provider;
  };
}
