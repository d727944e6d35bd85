// Provider clients for deployments: created once per deployment and key, then reused (keep-alive).
import type { Deployment } from '../config.ts';
import type { Provider } from './provider.ts';
import { providerNamed } from './registry.ts';

export function createProvider(deployment: Deployment, key: string | null): Provider {
  return providerNamed(deployment.provider).create(deployment, key);
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
