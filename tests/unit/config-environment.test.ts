// `os.environ/NAME` in litellm_params: any string value resolved at start-up, an unset variable refused by
// field, and api_key read from the variable else the provider secret, never from the file.
import { describe, expect, it } from 'vitest';
import { buildConfig, ConfigError } from '../../functions/complete/config.ts';
import { environmentCredentials, secretCredentials } from '../../functions/complete/credentials.ts';

const oneModel = (params: Record<string, unknown>) => ({
  model_list: [{ model_name: 'g', litellm_params: { model: 'openai/gpt-4o', ...params } }],
});

describe('os.environ/ in any string of litellm_params', () => {
  it('resolves api_base, api_version and aws_region_name, and lists the variables read', () => {
    const env = { MY_BASE: 'http://10.0.0.9:8000/v1', MY_VERSION: '2024-10-21', MY_REGION: 'eu-west-1' };
    const { config, environment } = buildConfig(
      oneModel({
        api_base: 'os.environ/MY_BASE',
        api_version: 'os.environ/MY_VERSION',
        aws_region_name: 'os.environ/MY_REGION',
        api_key: 'os.environ/MY_KEY',
      }),
      { ...env, MY_KEY: 'sk-never-listed' },
    );
    expect(config.deployments[0]).toMatchObject({
      apiBase: 'http://10.0.0.9:8000/v1',
      apiBaseFromFile: true,
      params: { region: 'eu-west-1', apiVersion: '2024-10-21' },
    });
    expect(environment).toEqual(env); // the key is not among them: keys come from the provider secret
  });

  it('resolves the model itself, prefix checks included', () => {
    const { config } = buildConfig(oneModel({ model: 'os.environ/MODEL' }), { MODEL: 'ollama/llama3' });
    expect(config.deployments[0]).toMatchObject({ id: 'ollama/llama3', provider: 'ollama', model: 'llama3' });
  });

  it('takes literal api_version and aws_region_name as written, and lists no variable', () => {
    const { config, environment } = buildConfig(oneModel({ api_version: 'v1', aws_region_name: 'us-east-1' }), {});
    expect(config.deployments[0]!.params).toEqual({ region: 'us-east-1', apiVersion: 'v1' });
    expect(environment).toEqual({});
  });

  it('leaves keys it ignores alone: their variables need not be set', () => {
    const { environment, ignoredKeys } = buildConfig(oneModel({ vertex_project: 'os.environ/NOT_SET' }), {});
    expect(environment).toEqual({});
    expect(ignoredKeys).toEqual(['model_list[0].litellm_params.vertex_project']);
  });

  it('refuses a variable that is not set, naming the field and the variable', () => {
    const file = oneModel({ api_base: 'os.environ/OLLAMA_URL', api_version: 'os.environ/EMPTY' });
    expect(() => buildConfig(file, { EMPTY: ' ' })).toThrow(ConfigError);
    let message = '';
    try {
      buildConfig(file, { EMPTY: ' ' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('model_list[0].litellm_params.api_base: os.environ/OLLAMA_URL is not set');
    expect(message).toContain('model_list[0].litellm_params.api_version: os.environ/EMPTY is not set');
    expect(message.split('\n')).toHaveLength(3); // the header and one line each: no second complaint
  });

  it('refuses a resolved api_base that is not http(s), saying where it was read', () => {
    expect(() => buildConfig(oneModel({ api_base: 'os.environ/BASE' }), { BASE: 'localhost:11434' })).toThrow(
      'model_list[0].litellm_params.api_base: must be an http:// or https:// URL (read from os.environ/BASE)',
    );
  });
});

describe('api_key', () => {
  const deployment = (env: NodeJS.ProcessEnv) =>
    buildConfig(oneModel({ api_key: 'os.environ/TEAM_OPENAI_KEY' }), env).config.deployments[0]!;

  it('reads the variable locally, else the deployment has no credentials', () => {
    expect(environmentCredentials({}).keyFor(deployment({ TEAM_OPENAI_KEY: 'k-env' }))).toBe('k-env');
    expect(environmentCredentials({}).keyFor(deployment({}))).toBeUndefined();
  });

  it('reads the provider secret field named by the variable lower-cased when the variable is not set', async () => {
    const secret = secretCredentials('arn:secret', {
      readJson: async () => ({ team_openai_key: ' k-secret ', TEAM_OPENAI_KEY: 'wrong-case' }),
    });
    await secret.refresh();
    expect(secret.keyFor(deployment({}))).toBe('k-secret');
    expect(secret.keyFor(deployment({ TEAM_OPENAI_KEY: 'k-env' }))).toBe('k-env'); // the variable comes first
  });

  it('leaves the deployment without credentials when neither has it', async () => {
    const secret = secretCredentials('arn:secret', { readJson: async () => ({ openai_api_key: 'default-key' }) });
    await secret.refresh();
    expect(secret.keyFor(deployment({}))).toBeUndefined();
  });

  it('is refused when literal, without echoing it', () => {
    let message = '';
    try {
      buildConfig(oneModel({ api_key: 'sk-literal-secret' }), {});
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('model_list[0].litellm_params.api_key: must be os.environ/NAME');
    expect(message).not.toContain('sk-literal-secret');
  });
});
