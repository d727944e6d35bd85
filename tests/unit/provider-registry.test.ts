// The provider seam: configuration and credentials learn every provider from its descriptor alone.
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../functions/complete/config.ts';
import { environmentCredentials, secretCredentials } from '../../functions/complete/credentials.ts';
import { MODEL_PREFIXES, PROVIDERS, providerOfModel } from '../../functions/complete/providers/registry.ts';

const fileOf = (litellm_params: { model: string; api_base?: string }) => ({
  model_list: [{ model_name: 'g', litellm_params }],
});

/** A deployment of `model`; a provider with no base URL of its own (Azure) gets `api_base`, which it requires. */
const deploymentOf = (model: string, env: NodeJS.ProcessEnv = {}) => {
  const provider = providerOfModel(model)?.provider;
  const needsBase = provider !== undefined && !provider.baseUrlVariable && !provider.defaultBaseUrl;
  return buildConfig(fileOf({ model, ...(needsBase && { api_base: 'https://resource.example' }) }), env).config
    .deployments[0]!;
};

describe('each registered provider describes itself', () => {
  it('gives every prefix to exactly one provider', () => {
    expect(new Set(MODEL_PREFIXES).size).toBe(MODEL_PREFIXES.length);
    expect(MODEL_PREFIXES).toEqual([
      'anthropic/',
      'openai/',
      'ollama/',
      'ollama_chat/',
      'azure/',
      'bedrock/converse/',
      'bedrock/',
    ]);
  });

  describe.each(PROVIDERS.flatMap((p) => p.prefixes.map((prefix) => [prefix, p] as const)))('%s', (prefix, p) => {
    it('is accepted by the configuration, which names the provider and strips the prefix', () => {
      expect(providerOfModel(`${prefix}some-model`)).toEqual({ provider: p, model: 'some-model' });
      expect(deploymentOf(`${prefix}some-model`)).toMatchObject({ provider: p.name, model: 'some-model' });
    });

    const variable = p.baseUrlVariable;
    if (variable) {
      it('takes its default base URL, else its base-URL variable, else api_base from the file', () => {
        expect(deploymentOf(`${prefix}m`)).toMatchObject({ apiBase: p.defaultBaseUrl ?? '', apiBaseFromFile: false });
        const env = { [variable]: 'http://proxy.internal:8080' };
        expect(deploymentOf(`${prefix}m`, env)).toMatchObject({
          apiBase: 'http://proxy.internal:8080',
          apiBaseFromFile: false,
        });
        const file = {
          model_list: [{ model_name: 'g', litellm_params: { model: `${prefix}m`, api_base: 'http://x:1' } }],
        };
        expect(buildConfig(file, env).config.deployments[0]).toMatchObject({
          apiBase: 'http://x:1',
          apiBaseFromFile: true,
        });
      });
    } else {
      it('has no base URL of its own: api_base from the file, else its check asks for api_base', () => {
        expect(p.defaultBaseUrl).toBeUndefined();
        expect(() => buildConfig(fileOf({ model: `${prefix}m` }), {})).toThrow(
          /model_list\[0\]\.litellm_params\.api_base: /,
        );
        const file = {
          model_list: [{ model_name: 'g', litellm_params: { model: `${prefix}m`, api_base: 'http://x:1' } }],
        };
        const deployment = buildConfig(file, {}).config.deployments[0]!;
        expect(deployment).toMatchObject({ apiBase: 'http://x:1', apiBaseFromFile: true });
        expect(p.check?.(deployment)).toBeUndefined();
      });
    }
  });

  it('refuses a model without a registered prefix by its provider, listing them all', () => {
    expect(() => deploymentOf('mistral/large')).toThrow(
      `provider "mistral" is not supported; use one of ${MODEL_PREFIXES.join(', ')}`,
    );
    expect(() => deploymentOf('openai/')).toThrow('must name a model after "openai/"');
  });
});

describe('each provider that needs a key names where it comes from', () => {
  const keyed = PROVIDERS.filter((p) => p.credential);

  it.each(keyed.map((p) => [p.name, p] as const))('%s: its variable locally', (_name, p) => {
    const credentials = environmentCredentials({ [p.credential!.variable]: ' key-from-env ' });
    expect(credentials.keyFor(deploymentOf(`${p.prefixes[0]}m`))).toBe('key-from-env');
    expect(environmentCredentials({}).keyFor(deploymentOf(`${p.prefixes[0]}m`))).toBeUndefined();
  });

  it.each(keyed.map((p) => [p.name, p] as const))('%s: its field of the provider secret in AWS', async (_name, p) => {
    const secrets = { readJson: async () => ({ [p.credential!.secretField]: 'key-from-secret' }) };
    const credentials = secretCredentials('arn:secret', secrets);
    await credentials.refresh();
    expect(credentials.keyFor(deploymentOf(`${p.prefixes[0]}m`))).toBe('key-from-secret');
  });

  it('needs no key for a provider without a credential', () => {
    for (const p of PROVIDERS.filter((p) => !p.credential))
      expect(environmentCredentials({}).keyFor(deploymentOf(`${p.prefixes[0]}m`))).toBeNull();
  });
});
