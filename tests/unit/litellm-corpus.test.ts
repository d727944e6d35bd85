// LiteLLM configurations that use only providers this product has (tests/fixtures/litellm, patterns in
// SOURCES.md) load and mean what they meant in LiteLLM: the groups, deployments and settings each must give.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BASE,
  CORPUS_DIR,
  DEFAULT_SETTINGS,
  deployment,
  deploymentsOf,
  expectIgnored,
  groupsOf,
  load,
  settingsOf,
} from './litellm-corpus.ts';

describe('the corpus', () => {
  it('holds at least 15 files, each with the LiteLLM pattern it follows in SOURCES.md', () => {
    const files = readdirSync(CORPUS_DIR).filter((f) => f.endsWith('.yaml'));
    const index = readFileSync(join(CORPUS_DIR, 'SOURCES.md'), 'utf8');
    expect(files.length).toBeGreaterThanOrEqual(15);
    expect(files.filter((f) => !index.includes(`| \`${f}\` |`))).toEqual([]);
  });
});

describe('Azure files load with the key, base URL and API version they name', () => {
  it('azure-key-from-named-variable: the key from the variable the file names, no fallback added', () => {
    const loaded = load('azure-key-from-named-variable.yaml', { AZURE_EMEA_API_KEY: 'test-azure-key' });
    expect(deploymentsOf(loaded)).toEqual([
      deployment({
        id: 'azure/gpt-4o-mini-prod',
        group: 'support-bot',
        provider: 'azure',
        model: 'gpt-4o-mini-prod',
        params: { apiVersion: '2024-06-01' },
      }),
    ]);
    expect(loaded.config.deployments[0]!.apiBase).toBe('https://contoso-emea.openai.azure.com/');
    expect(loaded.config.deployments[0]!.key).toEqual({
      kind: 'env',
      name: 'AZURE_EMEA_API_KEY',
      value: 'test-azure-key',
    });
    expect(settingsOf(loaded)).toEqual(DEFAULT_SETTINGS);
    expect(loaded.ignoredKeys).toEqual([]);
    expect(loaded.environment).toEqual({}); // a key is never set on the function from the file: it comes from the secret
  });

  it('fallback-to-deployment-id: an Azure deployment without api_version loads, as in LiteLLM', () => {
    // LiteLLM sends its own default API version when none is given; the Azure adapter sends the same one.
    const env = { AZURE_API_BASE: BASE, AZURE_API_KEY: 'test-azure-key', ANTHROPIC_API_KEY: 'test-anthropic-key' };
    const loaded = load('fallback-to-deployment-id.yaml', env);
    expect(groupsOf(loaded)).toEqual([
      ['writer', ['writer-openai-primary', 'azure/writer-gpt-4o']],
      ['reviewer', ['anthropic/claude-3-5-sonnet-20241022']],
    ]);
    const azure = loaded.config.deployments[1]!;
    expect(azure).toMatchObject({ provider: 'azure', model: 'writer-gpt-4o', apiBase: BASE, params: {} });
    expect(loaded.environment).toEqual({ AZURE_API_BASE: BASE });
  });

  it('health-check-embedding: base URL from os.environ; model_info extras and the other sections warned about', () => {
    const loaded = load('health-check-embedding.yaml', { AZURE_API_BASE: BASE, AZURE_API_KEY: 'test-azure-key' });
    expect(groupsOf(loaded)).toEqual([['embed-small', ['azure/text-embedding-3-small']]]);
    expect(deploymentsOf(loaded)[0]).toEqual(
      deployment({
        id: 'azure/text-embedding-3-small',
        group: 'embed-small',
        provider: 'azure',
        model: 'text-embedding-3-small',
        params: { apiVersion: '2024-02-01' },
      }),
    );
    expect(loaded.config.deployments[0]!.apiBase).toBe(BASE);
    expect(settingsOf(loaded)).toEqual(DEFAULT_SETTINGS);
    expectIgnored(loaded, [
      'model_list[0].model_info.base_model',
      'model_list[0].model_info.mode',
      'general_settings.health_check_interval',
      'general_settings.background_health_checks',
      'litellm_settings.set_verbose',
    ]);
    expect(loaded.environment).toEqual({ AZURE_API_BASE: BASE });
  });

  it('azure-all-from-environment: api_base and api_version from os.environ, both to be set on the function', () => {
    const env = { AZURE_API_BASE: BASE, AZURE_API_KEY: 'test-azure-key', AZURE_API_VERSION: '2024-10-21' };
    const loaded = load('azure-all-from-environment.yaml', env);
    expect(deploymentsOf(loaded)).toEqual([
      deployment({
        id: 'azure/gpt-4o-realtime-preview',
        group: 'realtime-4o',
        provider: 'azure',
        model: 'gpt-4o-realtime-preview',
        params: { apiVersion: '2024-10-21' },
      }),
    ]);
    expect(loaded.config.deployments[0]!.apiBase).toBe(BASE);
    expect(loaded.environment).toEqual({ AZURE_API_BASE: BASE, AZURE_API_VERSION: '2024-10-21' });
  });

  it('docker-compose-database: loads with its key variable unset, general_settings warned about and not kept', () => {
    // AZURE_API_KEY unset on purpose: an unset key variable is no error (the secret's field, else no
    // credentials), unlike every other os.environ/ value.
    const loaded = load('docker-compose-database.yaml', { AZURE_API_BASE: BASE });
    expect(deploymentsOf(loaded)).toEqual([
      deployment({
        id: 'azure/assistant-gpt-4o',
        group: 'assistant',
        provider: 'azure',
        model: 'assistant-gpt-4o',
        params: { apiVersion: '2024-10-21' },
      }),
    ]);
    expect(loaded.config.deployments[0]!.key).toEqual({ kind: 'env', name: 'AZURE_API_KEY', value: undefined });
    expectIgnored(loaded, ['general_settings.database_url', 'general_settings.master_key']);
    const everything = JSON.stringify({ ...loaded, config: deploymentsOf(loaded) });
    expect(
      everything.includes('test-db-secret-4242') || everything.includes('sk-test-admin-0000'),
      'keeps no value of an ignored key',
    ).toBe(false);
  });

  it('azure-cost-per-token: prices in litellm_params are the price; a misspelt os.envrion/ is a plain value', () => {
    const loaded = load('azure-cost-per-token.yaml', { AZURE_API_BASE: BASE, AZURE_API_KEY: 'test-azure-key' });
    // Only `os.environ/` is a reference: LiteLLM sends the misspelt value as written, and so does this
    // product (the API version is Azure's to check, at call time).
    expect(deploymentsOf(loaded)).toEqual([
      deployment({
        id: 'azure/finance-gpt-4o',
        group: 'private-gpt',
        provider: 'azure',
        model: 'finance-gpt-4o',
        price: { input: 0.0000025, output: 0.00001 },
        params: { apiVersion: 'os.envrion/AZURE_API_VERSION' },
      }),
    ]);
    expect(loaded.ignoredKeys).toEqual([]);
    expect(loaded.environment).toEqual({ AZURE_API_BASE: BASE });
  });
});

describe('a Bedrock file with literal regions loads, one deployment per region', () => {
  it('bedrock-regions-with-ids: numeric model_info.id values tell one model in two regions apart', () => {
    const loaded = load('bedrock-regions-with-ids.yaml');
    const nova = { group: 'nova', provider: 'bedrock', model: 'amazon.nova-pro-v1:0' };
    expect(deploymentsOf(loaded)).toEqual([
      deployment({ ...nova, id: '1', params: { region: 'us-east-1' } }),
      deployment({ ...nova, id: '2', params: { region: 'us-west-2' } }),
      deployment({
        ...nova,
        id: 'bedrock/eu.amazon.nova-pro-v1:0', // an inference profile id is the model
        model: 'eu.amazon.nova-pro-v1:0',
        params: { region: 'eu-central-1' },
      }),
    ]);
    expect(loaded.config.deployments.map((d) => d.key)).toEqual(Array(3).fill({ kind: 'none' })); // IAM
    expect(settingsOf(loaded)).toEqual(DEFAULT_SETTINGS);
    expect(loaded.environment).toEqual({});
  });
});

describe('router keys under litellm_settings are the router’s, router_settings winning a key both set', () => {
  it('litellm-settings-router-keys: retries, timeouts, cooldown and the four kinds of fallbacks', () => {
    const loaded = load('litellm-settings-router-keys.yaml', { OLLAMA_URL: BASE, ANTHROPIC_API_KEY: 'test-key' });
    expect(settingsOf(loaded)).toEqual({
      routingStrategy: 'latency-based-routing',
      numRetries: 1, // router_settings' value, not litellm_settings' 4
      allowedFails: 5,
      cooldownMs: 12_500,
      // `primary` has its own entry; default_fallbacks serve every other group but `local` itself.
      fallbacks: new Map([
        ['primary', ['local']],
        ['long-context', ['local']],
        ['summaries', ['local']],
      ]),
      contextWindowFallbacks: new Map([['primary', ['long-context']]]),
      contentPolicyFallbacks: new Map([['primary', ['summaries', 'local']]]),
    });
    expect(groupsOf(loaded)).toEqual([
      ['primary', ['anthropic/claude-3-5-sonnet-20241022', '7']],
      ['long-context', ['anthropic/claude-3-opus-20240229']],
      ['local', ['ollama_chat/llama3.1:8b']],
      ['summaries', ['openai/gpt-4o-mini']],
    ]);
    // request_timeout is the default; a deployment's own fraction of a second stands.
    expect(loaded.config.deployments.map((d) => d.timeoutMs)).toEqual([45_000, 500, 45_000, 45_000, 45_000]);
    const [claude, , , local] = loaded.config.deployments;
    expect(claude!.apiBase).toBe('https://llm-gateway.example.test/anthropic'); // /v1/messages is the SDK's to add
    expect(local).toMatchObject({ provider: 'ollama', model: 'llama3.1:8b', apiBase: BASE });
    expect(loaded.environment).toEqual({ OLLAMA_URL: BASE });
    expectIgnored(loaded, ['litellm_settings.drop_params', 'litellm_settings.num_retries']);
  });
});

describe('simple-shuffle shares by weight, else rpm, else tpm; order makes tiers', () => {
  it('shuffle-weight-rpm-order: each group by the key it uses, a tpm beside a weight warned about', () => {
    const loaded = load('shuffle-weight-rpm-order.yaml');
    expect(settingsOf(loaded).routingStrategy).toBe('simple-shuffle');
    expect(loaded.config.deployments.map((d) => [d.group, d.weight, d.order])).toEqual([
      ['chat', 3, 1],
      ['chat', 1, 1],
      ['chat', 2, 2],
      ['batch', 900, 1],
      ['batch', 100, 1],
      ['bulk', 1_000_000, 1],
      ['bulk', 250_000, 1],
    ]);
    expect(settingsOf(loaded).fallbacks).toEqual(new Map());
    expectIgnored(loaded, ['model_list[1].litellm_params.tpm']);
  });
});

describe('fallbacks are read as LiteLLM reads them', () => {
  it('repeated-fallback-entries: the first entry for a group applies, a target named twice runs once', () => {
    const loaded = load('repeated-fallback-entries.yaml');
    expect(settingsOf(loaded).fallbacks).toEqual(
      new Map([
        ['premium', ['standard', 'economy']],
        ['standard', ['economy']],
      ]),
    );
    expectIgnored(loaded, ['router_settings.fallbacks[2].premium']);
  });

  it('default-fallbacks: every group without an entry of its own falls back to the default groups', () => {
    const loaded = load('default-fallbacks.yaml');
    expect(settingsOf(loaded)).toEqual({
      ...DEFAULT_SETTINGS,
      fallbacks: new Map([
        ['reasoning', ['drafting', 'safety-net']],
        ['drafting', ['safety-net']],
      ]),
    });
    expect(loaded.ignoredKeys).toEqual([]);
  });

  it('star-fallback-entry: an entry for "*" serves every group, never the target itself', () => {
    const loaded = load('star-fallback-entry.yaml');
    expect(settingsOf(loaded).fallbacks).toEqual(
      new Map([
        ['answers', ['offline']],
        ['translations', ['offline']],
      ]),
    );
    expect(loaded.ignoredKeys).toEqual([]);
  });
});
