// The LLM pool: the `complete` router function behind an IAM-authenticated Function URL, with its provider secret.
import { CfnOutput, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Architecture, FunctionUrlAuthType, Runtime, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { RetentionDays, LogGroup } from 'aws-cdk-lib/aws-logs';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { BUNDLE_TARGET, ESM_REQUIRE_BANNER, EXTERNAL_MODULES, FUNCTION_ENTRIES } from './bundling.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface LlmPoolProps {
  /** Base URL of Ollama inside the VPC. @default 'http://localhost:11434' (Ollama unused) */
  readonly ollamaBaseUrl?: string;
  /** An existing provider secret `{ anthropic_api_key, openai_api_key }`. @default a new, empty secret to fill in */
  readonly providerSecret?: ISecret;
  /** Path of a LiteLLM-shaped router config bundled with the function. @default the built-in defaults */
  readonly llmConfigPath?: string;
}

export class LlmPool extends Construct {
  readonly function: NodejsFunction;
  readonly url: FunctionUrl;
  readonly providerSecret: ISecret;

  constructor(scope: Construct, id: string, props: LlmPoolProps = {}) {
    super(scope, id);
    this.providerSecret =
      props.providerSecret ??
      new Secret(this, 'ProviderSecret', {
        description: 'Konstruct provider API keys: {"anthropic_api_key": "...", "openai_api_key": "..."}',
        removalPolicy: RemovalPolicy.RETAIN,
      });

    this.function = new NodejsFunction(this, 'Complete', {
      entry: `${ROOT}${FUNCTION_ENTRIES.complete}`,
      projectRoot: ROOT,
      depsLockFilePath: `${ROOT}package-lock.json`,
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: 1024,
      timeout: Duration.seconds(120),
      logGroup: new LogGroup(this, 'CompleteLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY }),
      environment: {
        PROVIDER_SECRET_ARN: this.providerSecret.secretArn,
        OLLAMA_BASE_URL: props.ollamaBaseUrl ?? 'http://localhost:11434',
        POWERTOOLS_SERVICE_NAME: 'complete',
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        format: OutputFormat.ESM,
        target: BUNDLE_TARGET,
        minify: true,
        sourceMap: true,
        externalModules: EXTERNAL_MODULES,
        banner: ESM_REQUIRE_BANNER,
        forceDockerBundling: false,
      },
    });
    this.providerSecret.grantRead(this.function);
    this.url = this.function.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
    new CfnOutput(this, 'CompleteUrl', { value: this.url.url, description: 'complete Function URL (SigV4, service lambda)' });
  }
}
