// The providers `complete` can call: configuration, credentials and the client cache all read this list.
import { anthropic } from './anthropic.ts';
import { azure } from './azure.ts';
import { bedrock } from './bedrock.ts';
import { ollama } from './ollama.ts';
import { openai } from './openai.ts';
import type { ProviderDescriptor } from './provider.ts';

/** Adding a provider: one module exporting its descriptor, and one line here. */
export const PROVIDERS = [anthropic, openai, ollama, azure, bedrock] as const;

export type ProviderName = (typeof PROVIDERS)[number]['name'];

const BY_NAME = new Map<string, ProviderDescriptor<ProviderName>>(PROVIDERS.map((p) => [p.name, p]));

export function providerNamed(name: ProviderName): ProviderDescriptor<ProviderName> {
  return BY_NAME.get(name)!;
}

/** The provider a `litellm_params.model` names by its prefix, and the model name after it. */
export function providerOfModel(
  model: string,
): { provider: ProviderDescriptor<ProviderName>; model: string } | undefined {
  for (const provider of PROVIDERS) {
    const prefix = provider.prefixes.find((p) => model.startsWith(p));
    if (prefix !== undefined) return { provider, model: model.slice(prefix.length) };
  }
  return undefined;
}

/** Every prefix, for messages that list what is accepted. */
export const MODEL_PREFIXES: readonly string[] = PROVIDERS.flatMap((p) => p.prefixes);
