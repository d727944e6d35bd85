// `-c llmConfig`: the router's configuration file deployed with the stack, validated at synth, shipped in
// complete's bundle, and what the stack derives from it (variables, Bedrock grants and endpoint, Ollama).
import { Aspects, type Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../functions/complete/config.ts';
import { KonstructStack, type KonstructStackProps } from '../../lib/konstruct-stack.ts';
import { LlmConfigError, readLlmConfig } from '../../lib/llm-config.ts';
import { useTempFolder } from '../helpers/temp-files.ts';
import { appFactory } from './cdk-app.ts';

const files = useTempFolder('konstruct-llm-config-');
const newApp = appFactory('llm-stack');

const REGION = 'eu-west-1';
const ACCOUNT = '123456789012';

function synth(props: KonstructStackProps = {}) {
  const app = newApp();
  const stack = new KonstructStack(app, 'Test', { env: { account: ACCOUNT, region: REGION }, ...props });
  Aspects.of(stack).add(new AwsSolutionsChecks());
  app.synth();
  return { stack, template: Template.fromStack(stack), outdir: app.outdir };
}

type Resource = { Properties: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };

/** A CloudFormation string as the deployed stack will see it (partition `aws`). */
function render(value: unknown): unknown {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(render);
  const v = value as Record<string, unknown>;
  if (v.Ref === 'AWS::Partition') return 'aws';
  if (v['Fn::Join']) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(render).join(separator);
  }
  return value;
}

const completeFunction = (template: Template) =>
  (Object.entries(template.findResources('AWS::Lambda::Function')) as [string, Resource][]).find(([id]) =>
    id.includes('Complete'),
  )![1];
const completeEnvironment = (template: Template) =>
  completeFunction(template).Properties.Environment.Variables as Record<string, unknown>;
const bedrockStatements = (template: Template) =>
  Object.values(template.findResources('AWS::IAM::Policy'))
    .flatMap((p) => (p as Resource).Properties.PolicyDocument.Statement as Statement[])
    .filter((s) => [s.Action].flat().some((a) => a.startsWith('bedrock:')))
    .map((s) => ({
      actions: [s.Action].flat().sort(),
      resources: ([render(s.Resource)].flat() as string[]).sort(),
      condition: s.Condition,
    }));
const bedrockEndpoints = (template: Template) =>
  (Object.values(template.findResources('AWS::EC2::VPCEndpoint')) as Resource[]).filter((e) =>
    String(render(e.Properties.ServiceName)).endsWith('.bedrock-runtime'),
  );
const nagFindings = (stack: Stack) =>
  [
    ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
  ].map((f) => f.entry.data);

const OPENAI_ENTRY = { model_name: 'quality', litellm_params: { model: 'openai/gpt-4o' } };

const BEDROCK_YAML = `model_list:
  - model_name: quality
    litellm_params: { model: bedrock/anthropic.claude-3-haiku-20240307-v1:0 }
  - model_name: quality
    litellm_params: { model: bedrock/amazon.nova-pro-v1:0, aws_region_name: us-east-1 }
  - model_name: quality
    litellm_params: { model: openai/gpt-4o }
`;
const INVOKE = ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'];
const fm = (region: string, id: string) => `arn:aws:bedrock:${region}::foundation-model/${id}`;

describe('Bedrock foundation models', () => {
  const path = files.file('bedrock.yaml', BEDROCK_YAML);
  const llmConfig = readLlmConfig(path, {});
  let stack: Stack, template: Template, outdir: string;
  beforeAll(() => {
    ({ stack, template, outdir } = synth({ llmConfig, ollamaBaseUrl: 'http://10.0.1.5:11434' }));
  }, 120_000);

  it('grants invoke on exactly each model, in its aws_region_name or else the stack region', () => {
    expect(bedrockStatements(template)).toEqual([
      {
        actions: INVOKE,
        resources: [fm('eu-west-1', 'anthropic.claude-3-haiku-20240307-v1:0'), fm('us-east-1', 'amazon.nova-pro-v1:0')],
        condition: undefined,
      },
    ]);
  });

  it('reaches bedrock-runtime through an interface endpoint with private DNS in the private subnets, open only to complete', () => {
    const [endpoint, ...others] = bedrockEndpoints(template);
    expect(others).toEqual([]);
    expect(render(endpoint!.Properties.ServiceName)).toBe(`com.amazonaws.${REGION}.bedrock-runtime`);
    expect(endpoint!.Properties.PrivateDnsEnabled).toBe(true);
    expect(endpoint!.Properties.VpcEndpointType).toBe('Interface');
    expect(endpoint!.Properties.SubnetIds).toEqual(completeFunction(template).Properties.VpcConfig.SubnetIds);
    const groupId = (endpoint!.Properties.SecurityGroupIds as { 'Fn::GetAtt': [string, string] }[])[0]![
      'Fn::GetAtt'
    ][0];
    const group = template.findResources('AWS::EC2::SecurityGroup')[groupId] as Resource;
    const completeGroup = completeFunction(template).Properties.VpcConfig.SecurityGroupIds[0];
    expect(group.Properties.SecurityGroupIngress).toEqual([
      expect.objectContaining({ IpProtocol: 'tcp', FromPort: 443, ToPort: 443, SourceSecurityGroupId: completeGroup }),
    ]);
  });

  it('ships the file in complete’s bundle and names it in LLM_CONFIG', () => {
    expect(completeEnvironment(template).LLM_CONFIG).toBe('/var/task/llm-config.yaml');
    const key = String(completeFunction(template).Properties.Code.S3Key);
    const bundled = join(outdir, `asset.${key.replace(/\.zip$/, '')}`, 'llm-config.yaml');
    expect(readFileSync(bundled, 'utf8')).toBe(BEDROCK_YAML);
  });

  it('stays cdk-nag clean', () => {
    expect(nagFindings(stack)).toEqual([]);
  });
});

describe('Bedrock cross-Region inference profiles', () => {
  it('grants the profile and its foundation model in every Region of its geography', () => {
    const id = 'eu.anthropic.claude-sonnet-4-20250514-v1:0';
    const path = files.file(
      'profile.yaml',
      `model_list:\n  - model_name: q\n    litellm_params: { model: bedrock/${id} }\n`,
    );
    const { template } = synth({
      llmConfig: readLlmConfig(path, {}),
      ollamaBaseUrl: 'http://10.0.1.5:11434',
    });
    const model = 'anthropic.claude-sonnet-4-20250514-v1:0';
    const eu = [
      'eu-central-1',
      'eu-central-2',
      'eu-north-1',
      'eu-south-1',
      'eu-south-2',
      'eu-west-1',
      'eu-west-2',
      'eu-west-3',
    ];
    expect(bedrockStatements(template)).toEqual([
      {
        actions: INVOKE,
        resources: [
          ...eu.map((r) => fm(r, model)),
          `arn:aws:bedrock:${REGION}:${ACCOUNT}:inference-profile/${id}`,
        ].sort(),
        condition: undefined,
      },
    ]);
    expect(bedrockEndpoints(template)).toHaveLength(1);
  }, 120_000);
});

describe('a configuration without Bedrock', () => {
  const json = JSON.stringify({
    model_list: [
      OPENAI_ENTRY,
      { model_name: 'fast', litellm_params: { model: 'ollama/qwen3:8b', api_base: 'http://10.0.1.5:11434' } },
    ],
  });
  const path = files.file('plain.json', json);
  // The real loader, as `complete` runs it; the path as given relative to the directory cdk runs in.
  let stack: Stack, template: Template, outdir: string;
  beforeAll(() => {
    ({ stack, template, outdir } = synth({ llmConfig: relative(process.cwd(), path) }));
  }, 120_000);

  it('grants nothing on Bedrock and creates no Bedrock endpoint', () => {
    expect(bedrockStatements(template)).toEqual([]);
    expect(bedrockEndpoints(template)).toEqual([]);
  });

  it('ships the file under its own extension, from a path relative to where cdk runs', () => {
    expect(completeEnvironment(template).LLM_CONFIG).toBe('/var/task/llm-config.json');
    const key = String(completeFunction(template).Properties.Code.S3Key);
    expect(readFileSync(join(outdir, `asset.${key.replace(/\.zip$/, '')}`, 'llm-config.json'), 'utf8')).toBe(json);
  });

  it('needs no Ollama option when every Ollama deployment has its api_base, and stays cdk-nag clean', () => {
    expect(Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('fast group'))).toEqual([]);
    expect(nagFindings(stack)).toEqual([]);
  });
});

describe('without -c llmConfig', () => {
  it('deploys the built-in defaults with no LLM_CONFIG, warning that the fast group needs an Ollama option', () => {
    const { stack, template } = synth();
    expect(completeEnvironment(template).LLM_CONFIG).toBeUndefined();
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('fast group'));
    expect(warnings.map((w) => w.entry.data)).toEqual([
      'the fast group will be unavailable: set -c ollamaBaseUrl=… or -c ollamaEndpointServiceName=…',
    ]);
    const withOllama = synth({ ollamaBaseUrl: 'http://10.0.1.5:11434' }).stack;
    expect(Annotations.fromStack(withOllama).findWarning('*', Match.stringLikeRegexp('fast group'))).toEqual([]);
  }, 120_000);
});

describe('a configuration that cannot deploy fails synth', () => {
  it('with the loader’s message naming the field, as npm start prints it', () => {
    const path = files.file('bad.yaml', 'model_list:\n  - model_name: q\n    litellm_params: { model: nope/x }\n');
    const loaderMessage = (() => {
      try {
        loadConfigFile(path, {});
      } catch (err) {
        return (err as Error).message;
      }
    })();
    expect(loaderMessage).toContain('model_list[0].litellm_params.model');
    expect(() => synth({ llmConfig: path })).toThrow(LlmConfigError);
    expect(() => synth({ llmConfig: path })).toThrow(loaderMessage);
  });

  it('when a Bedrock deployment takes its aws_region_name or model from os.environ/', () => {
    const region = files.file(
      'env-region.yaml',
      'model_list:\n  - model_name: q\n    litellm_params: { model: bedrock/amazon.nova-pro-v1:0, aws_region_name: os.environ/BEDROCK_REGION }\n',
    );
    expect(() => readLlmConfig(region, { BEDROCK_REGION: 'us-east-1' })).toThrow(
      /model_list\[0\]\.litellm_params\.aws_region_name: must be written as it is, not os\.environ\/BEDROCK_REGION/,
    );
    const model = files.file(
      'env-model.yaml',
      'model_list:\n  - model_name: q\n    litellm_params: { model: os.environ/M }\n',
    );
    expect(() => readLlmConfig(model, { M: 'bedrock/amazon.nova-pro-v1:0' })).toThrow(
      /model_list\[0\]\.litellm_params\.model: must be written as it is, not os\.environ\/M/,
    );
  });

  it('when a Bedrock model is an ARN of another service', () => {
    const path = files.file(
      'arn.yaml',
      'model_list:\n  - model_name: q\n    litellm_params: { model: bedrock/arn:aws:s3:::b/k }\n',
    );
    expect(() => readLlmConfig(path, {})).toThrow(
      /bedrock\/arn:aws:s3:::b\/k \(group q\) names an ARN that is not an Amazon Bedrock one/,
    );
  });

  it('when an Ollama deployment has no api_base and the stack no Ollama option, saying what to set', () => {
    const path = files.file(
      'ollama.yaml',
      'model_list:\n  - model_name: fast\n    litellm_params: { model: ollama/qwen3:8b }\n',
    );
    expect(() => synth({ llmConfig: path })).toThrow(
      /ollama\/qwen3:8b \(group fast\).*-c ollamaBaseUrl=.*-c ollamaEndpointServiceName=/,
    );
  });
});

describe('os.environ/ values of the file', () => {
  // Each deployment reads its base URL (and Azure its api_version) from the deploying shell, its key never.
  const path = files.file(
    'env.yaml',
    `model_list:
  - model_name: quality
    litellm_params: { model: openai/gpt-4o, api_base: os.environ/OPENAI_URL, api_key: os.environ/TEAM_OPENAI_KEY }
  - model_name: quality
    litellm_params:
      model: azure/gpt-4o
      api_base: os.environ/AZURE_API_BASE
      api_version: os.environ/AZURE_API_VERSION
      api_key: os.environ/AZURE_API_KEY
`,
  );
  /** A file whose one deployment reads its api_base from `variable`. */
  const baseFrom = (variable: string) =>
    files.file(
      `base-${variable}.yaml`,
      `model_list:\n  - model_name: quality\n    litellm_params: { model: openai/gpt-4o, api_base: os.environ/${variable} }\n`,
    );

  it('are set on complete as the deploying shell has them, never a key', () => {
    const llmConfig = readLlmConfig(path, {
      OPENAI_URL: 'http://10.0.2.9:8000/v1',
      TEAM_OPENAI_KEY: 'sk-x',
      AZURE_API_BASE: 'https://team.openai.azure.com',
      AZURE_API_VERSION: '2024-10-21',
      AZURE_API_KEY: 'az-x',
    });
    const env = completeEnvironment(synth({ llmConfig, ollamaBaseUrl: 'http://10.0.1.5:11434' }).template);
    expect(env.OPENAI_URL).toBe('http://10.0.2.9:8000/v1');
    expect(env.AZURE_API_BASE).toBe('https://team.openai.azure.com');
    expect(env.AZURE_API_VERSION).toBe('2024-10-21');
    expect(env).not.toHaveProperty('TEAM_OPENAI_KEY');
    expect(env).not.toHaveProperty('AZURE_API_KEY');
  }, 120_000);

  it('fail synth when one the file needs is not set in the deploying shell, naming the field', () => {
    expect(() => readLlmConfig(path, { OPENAI_URL: 'http://10.0.2.9:8000/v1' })).toThrow(
      /model_list\[1\]\.litellm_params\.api_base: os\.environ\/AZURE_API_BASE is not set/,
    );
  });

  it('fail synth when they name a variable Lambda reserves or the stack sets itself', () => {
    expect(() => readLlmConfig(baseFrom('AWS_REGION'), { AWS_REGION: 'http://10.0.2.9:8000/v1' })).toThrow(
      /os\.environ\/AWS_REGION.*reserves/,
    );
    const clash = readLlmConfig(baseFrom('PROVIDER_SECRET_ARN'), { PROVIDER_SECRET_ARN: 'http://10.0.2.9:8000/v1' });
    expect(() => synth({ llmConfig: clash, ollamaBaseUrl: 'http://10.0.1.5:11434' })).toThrow(
      /os\.environ\/PROVIDER_SECRET_ARN, which the stack sets/,
    );
  });
});
