// LiteLLM configurations this product cannot run as LiteLLM would (tests/fixtures/litellm, patterns in
// SOURCES.md) are refused whole, with a message that names each field and says why, never repeating a secret.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BASE, CORPUS_DIR, problemAt, refusal } from './litellm-corpus.ts';

describe('a file naming a provider this product does not have is refused by that name, never half-loaded', () => {
  it('workstation-with-gemini: gemini/ stops it, though its Ollama, OpenAI and Anthropic entries are fine', () => {
    const message = refusal('workstation-with-gemini.yaml', {});
    expect(problemAt(message, 'model_list[2].litellm_params.model')).toContain('gemini');
    for (const fine of ['model_list[0]', 'model_list[1]', 'model_list[3]']) expect(message).not.toContain(fine);
  });

  it('huggingface-load-balancing: huggingface/, and bare OpenAI model names told the prefixes', () => {
    const message = refusal('huggingface-load-balancing.yaml', {}, ['<openai-key-here>', '<redis-password>']);
    expect(problemAt(message, 'model_list[0].litellm_params.model')).toContain('huggingface');
    expect(problemAt(message, 'model_list[2].litellm_params.model')).toContain('openai/');
  });

  it('kitchen-sink-proxy: sagemaker/, cohere/, wildcards and usage-based-routing-v2, each by its field', () => {
    const message = refusal('kitchen-sink-proxy.yaml', {}, ['sk-test-mock-0001', 'sk-test-kitchen-1111']);
    expect(problemAt(message, 'model_list[5].litellm_params.model')).toContain('sagemaker');
    expect(problemAt(message, 'model_list[11].litellm_params.model')).toContain('cohere');
    expect(problemAt(message, 'model_list[9].')).toMatch(/list each model/i);
    expect(problemAt(message, 'model_list[10].')).toMatch(/list each model/i);
    expect(problemAt(message, 'model_list[7].litellm_params.api_key')).toContain('os.environ/');
    // The reason lists the strategies there are.
    expect(problemAt(message, 'router_settings.routing_strategy')).toContain('simple-shuffle');
  });

  it('unprefixed-and-unknown-providers: openrouter/ and togethercomputer/ by name, a bare name told the prefixes', () => {
    const secrets = ['sk-test-aaaa1111', 'sk-test-bbbb2222', 'test-redis-secret-3333'];
    const message = refusal('unprefixed-and-unknown-providers.yaml', {}, secrets);
    expect(problemAt(message, 'model_list[2].litellm_params.model')).toContain('openrouter');
    expect(problemAt(message, 'model_list[3].litellm_params.model')).toContain('togethercomputer');
    expect(problemAt(message, 'model_list[0].litellm_params.model')).toContain('openai/');
  });

  it('anthropic-model-without-prefix: LiteLLM guesses the provider, this product asks for its prefix', () => {
    const message = refusal('anthropic-model-without-prefix.yaml', { ANTHROPIC_API_KEY: 'test-anthropic-key' });
    expect(problemAt(message, 'model_list[0].litellm_params.model')).toContain('anthropic/');
  });
});

describe('a key written in the file is refused, and the message never repeats it', () => {
  it('provider-specific-params: literal api_key values, and an api_base that is no URL', () => {
    const secrets = ['sk-test-1234', 'sk-test-9876', 'org-test-5678', 'eyJhbGciOiJub25lIn0'];
    const message = refusal('provider-specific-params.yaml', {}, secrets);
    expect(problemAt(message, 'model_list[1].litellm_params.api_key')).toContain('os.environ/');
    expect(problemAt(message, 'model_list[2].litellm_params.api_key')).toContain('os.environ/');
    expect(problemAt(message, 'model_list[3].litellm_params.api_base')).toMatch(/http/);
  });

  it('fake-endpoint-literal-key: the literal key alone, its os.environ/ api_base being fine', () => {
    const message = refusal('fake-endpoint-literal-key.yaml', { LOAD_TEST_API_BASE: BASE }, ['sk-test-loadtest']);
    expect(problemAt(message, 'model_list[0].litellm_params.api_key')).toContain('os.environ/');
    expect(message).not.toContain('litellm_params.api_base');
  });

  it('per-model-timeouts: the literal key, while a 0.2 s timeout is a valid timeout', () => {
    const message = refusal('per-model-timeouts.yaml', {}, ['<paste-key>']);
    expect(problemAt(message, 'model_list[0].litellm_params.api_key')).toContain('os.environ/');
    expect(message).not.toContain('litellm_params.timeout');
  });
});

describe('wildcards are refused with "list each model"', () => {
  it('quick-start-catch-all: model_name "*" with model "*"; "none" is a literal key too', () => {
    const message = refusal('quick-start-catch-all.yaml', {}, ['sk-test-master-1234']);
    expect(problemAt(message, 'model_list[5].')).toMatch(/list each model/i);
    expect(problemAt(message, 'model_list[4].litellm_params.api_key')).toContain('os.environ/');
  });

  it('wildcard-provider-fallback: azure/*', () => {
    const env = { OPENAI_API_KEY: 'test-openai-key', AZURE_API_KEY: 'test-azure-key', AZURE_API_BASE: BASE };
    const message = refusal('wildcard-provider-fallback.yaml', env);
    expect(problemAt(message, 'model_list[0].')).toMatch(/list each model/i);
  });
});

describe('a file LiteLLM would read differently is refused, naming the field and why', () => {
  it('aliases-to-local-models: two deployments of one model need a model_info.id each', () => {
    // LiteLLM makes ids from all the params; here the id is the model unless model_info.id gives one.
    expect(problemAt(refusal('aliases-to-local-models.yaml', {}), 'model_list[2]')).toContain('model_info.id');
  });

  it('bedrock-one-model-three-regions: one Bedrock model in three regions needs a model_info.id each', () => {
    const message = refusal('bedrock-one-model-three-regions.yaml', {});
    expect(problemAt(message, 'model_list[1]')).toContain('model_info.id');
    expect(problemAt(message, 'model_list[2]')).toContain('model_info.id');
  });

  it('azure-tpm-with-underscores: 50_000 is text in YAML 1.2 (a number to LiteLLM’s YAML 1.1), never a silent other value', () => {
    const message = refusal('azure-tpm-with-underscores.yaml', { AZURE_API_KEY: 'test-azure-key' });
    expect(problemAt(message, 'model_list[0].litellm_params.tpm')).toContain('number');
    expect(problemAt(message, 'model_list[1].litellm_params.tpm')).toContain('number');
  });

  it('azure-all-from-environment with AZURE_API_VERSION unset: the field and the variable it names', () => {
    const message = refusal('azure-all-from-environment.yaml', { AZURE_API_BASE: BASE, AZURE_API_KEY: 'test-key' });
    expect(problemAt(message, 'model_list[0].litellm_params.api_version')).toContain('AZURE_API_VERSION');
  });
});

describe('a Bedrock region read from the environment is refused: the stack scopes its grants to it', () => {
  // Per-deployment AWS keys are not used (Bedrock authenticates with the function's role), so their
  // variables are never read, and their values can never reach a message.
  const secrets = ['test-access-key-id', 'test-secret-access-key'];

  it('bedrock-custom-credential-variables: aws_region_name must be written as it is', () => {
    const env = {
      TEAM_AWS_REGION_NAME: 'us-west-2',
      TEAM_AWS_ACCESS_KEY_ID: 'test-access-key-id',
      TEAM_AWS_SECRET_ACCESS_KEY: 'test-secret-access-key',
    };
    const message = refusal('bedrock-custom-credential-variables.yaml', env, secrets);
    expect(problemAt(message, 'model_list[0].litellm_params.aws_region_name')).toMatch(/literal|as it is/i);
    expect(message).not.toContain('aws_access_key_id');
    expect(message).not.toContain('aws_secret_access_key');
  });

  it('bedrock-profile-environment-region: the same for an inference profile', () => {
    const env = {
      AWS_REGION_NAME: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test-access-key-id',
      AWS_SECRET_ACCESS_KEY: 'test-secret-access-key',
    };
    const message = refusal('bedrock-profile-environment-region.yaml', env, secrets);
    expect(problemAt(message, 'model_list[0].litellm_params.aws_region_name')).toMatch(/literal|as it is/i);
  });
});

describe('a file that does not parse is refused by line and column, never quoting it', () => {
  it('uneven-general-settings: the key indented one space deeper than its siblings, at its own line', () => {
    const name = 'uneven-general-settings.yaml';
    const line =
      readFileSync(join(CORPUS_DIR, name), 'utf8')
        .split('\n')
        .indexOf('  key_management_system: "aws_secret_manager"') + 1;
    expect(line).toBeGreaterThan(0);
    expect(refusal(name, {}, ['sk-test-proxy-5555', 'aws_secret_manager'])).toMatch(
      new RegExp(`line ${line}, column \\d+`),
    );
  });

  it('hosted-unclosed-quote: a quote never closed', () => {
    expect(refusal('hosted-unclosed-quote.yaml', {}, ['sk-test-hosted-7777'])).toMatch(/line \d+, column \d+/);
  });
});
