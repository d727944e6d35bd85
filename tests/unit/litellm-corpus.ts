// The LiteLLM corpus's harness: loads a fixture of tests/fixtures/litellm and reads what it produced, or why not.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';
import { ConfigError, loadConfigFile, type LoadedConfig } from '../../functions/complete/config.ts';

export const CORPUS_DIR = fileURLToPath(new URL('../fixtures/litellm/', import.meta.url));

export const load = (name: string, env: NodeJS.ProcessEnv = {}): LoadedConfig =>
  loadConfigFile(join(CORPUS_DIR, name), env);

/** A stand-in base URL for `os.environ/` values: loopback, a port nothing listens on. */
export const BASE = 'http://127.0.0.1:1';

/**
 * The router settings by the contract's names: adapting to the loader's field names is this one place.
 * `default_fallbacks` (and a `"*"` entry) are read as folded into `fallbacks`, once for every group
 * without an entry of its own; a group with no fallback has no key.
 */
export function settingsOf({ config }: LoadedConfig) {
  const s = config.settings as unknown as Record<string, unknown>;
  return {
    routingStrategy: s.routingStrategy,
    numRetries: s.numRetries,
    allowedFails: s.allowedFails,
    cooldownMs: s.cooldownMs,
    fallbacks: s.fallbacks,
    contextWindowFallbacks: s.contextWindowFallbacks,
    contentPolicyFallbacks: s.contentPolicyFallbacks,
  };
}

/** What a file that sets no router key and no fallback of any kind runs with: this product's defaults, no fallback. */
export const DEFAULT_SETTINGS = {
  routingStrategy: 'latency-based-routing',
  numRetries: 2,
  allowedFails: 3,
  cooldownMs: 30_000,
  fallbacks: new Map(),
  contextWindowFallbacks: new Map(),
  contentPolicyFallbacks: new Map(),
};

/** Each deployment as the router will use it (the key and base URL are checked where the file sets them). */
export function deploymentsOf({ config }: LoadedConfig) {
  return config.deployments.map((d) => ({
    id: d.id,
    group: d.group,
    provider: d.provider as string,
    model: d.model,
    timeoutMs: d.timeoutMs,
    price: d.price,
    order: d.order,
    weight: d.weight,
    params: d.params,
  }));
}

/** A deployment as the contract builds it from a `litellm_params` that sets only what `fields` give. */
export const deployment = (fields: Partial<ReturnType<typeof deploymentsOf>[number]>) => ({
  timeoutMs: 60_000, // the router settings' default timeout
  price: undefined, // Azure and Bedrock have no built-in price
  order: 1,
  weight: undefined, // no share under latency-based routing
  params: {},
  ...fields,
});

export const groupsOf = ({ config }: LoadedConfig) => [...config.groups].map(([g, ds]) => [g, ds.map((d) => d.id)]);

/**
 * The warning names each ignored key by its path. A section ignored whole may be named as itself or key by key:
 * each expected path must be covered by a reported one, and each reported one must lie on an expected path.
 */
export function expectIgnored({ ignoredKeys }: LoadedConfig, expected: string[]) {
  const within = (inner: string, outer: string) => inner === outer || inner.startsWith(`${outer}.`);
  for (const path of expected)
    expect(
      ignoredKeys.some((k) => within(path, k)),
      `warns about ${path}`,
    ).toBe(true);
  for (const key of ignoredKeys) {
    expect(
      expected.some((p) => within(p, key) || within(key, p)),
      `${key} is not ignored`,
    ).toBe(true);
  }
}

/** Loads `name` expecting a refusal; returns the message, after checking it repeats none of `secrets`. */
export function refusal(name: string, env: NodeJS.ProcessEnv, secrets: string[] = []): string {
  let error: unknown;
  try {
    load(name, env);
  } catch (err) {
    error = err;
  }
  expect(error instanceof ConfigError, `${name} is refused whole, never half-loaded`).toBe(true);
  const message = (error as ConfigError).message;
  // Checked without printing: a failing toContain would show the very value it looks for.
  for (const secret of secrets) expect(message.includes(secret), `the message repeats a value of ${name}`).toBe(false);
  return message;
}

/** The message's line about `path`, so that each reason is checked against its own field. */
export function problemAt(message: string, path: string): string {
  const line = message.split('\n').find((l) => l.includes(path));
  expect(line, `the message names ${path}`).toBeDefined();
  return line!;
}
