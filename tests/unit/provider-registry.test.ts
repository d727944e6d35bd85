// The provider seam: configuration and credentials learn every provider from its descriptor alone.
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../functions/complete/config.ts';
import { environmentCredentials, secretCredentials } from '../../functions/complete/credentials.ts';
import { MODEL_PREFIXES, PROVIDERS, providerOfModel } from '../../functions/complete/providers/registry.ts';

const deploymentOf = (model: string, env: NodeJS.ProcessEnv = {}) =>
  buildConfig({ model_list: [{ model_name: 'g', litellm_params: { model } }] }, env).config.deployments[0]!;

describe('each registered provider describes itself', () => {
  it('gives every prefix to exactly one provider', () => {
    expect(new Set(MODEL_PREFIXES).size).toBe(MODEL_PREFIXES.length);
    expect(MODEL_PREFIXES).toEqual([
      'anthropic/',
      'openai/',
      'ollama/',
      'ollama_chat/',
      'bedrock/converse/',
      'bedrock/',
    ]);
  });

  describe.each(PROVIDERS.flatMap((p) => p.prefixes.map((prefix) => [prefix, p] as const)))('%s', (prefix, p) => {
    it('is accepted by the configuration, which names the provider and strips the prefix', () => {
      expect(providerOfModel(`${prefix}some-model`)).toEqual({ provider: p, model: 'some-model' });
      expect(deploymentOf(`${prefix}some-model`)).toMatchObject({ provider: p.name, model: 'some-model' });
    });

    it('takes its default base URL (none: empty), else its base-URL variable, else api_base from the file', () => {
      expect(deploymentOf(`${prefix}m`)).toMatchObject({ apiBase: p.defaultBaseUrl ?? '', apiBaseFromFile: false });
      const env = { [p.baseUrlVariable]: 'http://proxy.internal:8080' };
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
  });

  it('refuses a model without a registered prefix, listing them all', () => {
    expect(() => deploymentOf('mistral/large')).toThrow(
      'must start with anthropic/, openai/, ollama/, ollama_chat/, bedrock/converse/ or bedrock/ followed by the model name',
    );
    expect(() => deploymentOf('openai/')).toThrow('followed by the model name');
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
