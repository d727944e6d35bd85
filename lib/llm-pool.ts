// The LLM pool: the `complete` router function in private subnets behind an IAM-authenticated Function URL,
// its provider secret, its configuration file, the way to Ollama (a private URL, or an interface endpoint to
// an endpoint service) and, for Bedrock deployments, their grants and a private endpoint.
import { Annotations, Duration, Fn, RemovalPolicy, Stack } from 'aws-cdk-lib';
import {
  InterfaceVpcEndpoint,
  InterfaceVpcEndpointService,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  type IVpc,
} from 'aws-cdk-lib/aws-ec2';
import { FunctionUrlAuthType, InvokeMode, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { DEFAULT_CONFIG_FILE } from '../functions/complete/config.ts';
import { BedrockAccess } from './bedrock-access.ts';
import { konstructFunction } from './konstruct-function.ts';
import { BundledConfigFile, LlmConfigError, type StackLlmConfig } from './llm-config.ts';

const OLLAMA_PORT = 11434;

/** complete's timeout (the contract's 120 s). */
export const COMPLETE_TIMEOUT = Duration.seconds(120);

export interface LlmPoolProps {
  readonly vpc: IVpc;
  /** Ollama's private base URL, e.g. `http://10.0.1.5:11434`. */
  readonly ollamaBaseUrl?: string;
  /** An endpoint service in front of Ollama; an interface VPC endpoint to it is created. Wins over `ollamaBaseUrl`. */
  readonly ollamaEndpointServiceName?: string;
  /** An existing provider secret `{ anthropic_api_key, openai_api_key }`. @default a new, empty secret to fill in */
  readonly providerSecretArn?: string;
  /** The router configuration file, read by `readLlmConfig`. @default the built-in defaults */
  readonly llmConfig?: StackLlmConfig;
  /** Concurrency reserved for (and capping) `complete`. */
  readonly reservedConcurrency: number;
}

/** Where the router's configuration file is in the Lambda bundle. */
const TASK_ROOT = '/var/task';

export class LlmPool extends Construct {
  readonly function: NodejsFunction;
  readonly url: FunctionUrl;
  readonly providerSecret: ISecret;
  /** The router's groups (the configuration's model names), in the file's order. */
  readonly groups: string[];

  constructor(scope: Construct, id: string, props: LlmPoolProps) {
    super(scope, id);
    this.providerSecret = props.providerSecretArn
      ? Secret.fromSecretCompleteArn(this, 'ProviderSecret', props.providerSecretArn)
      : new Secret(this, 'ProviderSecret', {
          description: 'Konstruct provider API keys: {"anthropic_api_key": "...", "openai_api_key": "..."}',
          removalPolicy: RemovalPolicy.RETAIN,
        });

    const securityGroup = new SecurityGroup(this, 'CompleteSecurityGroup', {
      vpc: props.vpc,
      description: 'complete: out to Ollama and, through NAT, the public providers',
      allowAllOutbound: true,
    });

    const config = props.llmConfig;
    this.groups = config?.groups ?? [...new Set(DEFAULT_CONFIG_FILE.model_list.map((entry) => entry.model_name))];
    this.function = konstructFunction(this, 'Complete', {
      function: 'complete',
      memorySize: 1024,
      timeout: COMPLETE_TIMEOUT,
      vpc: props.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [securityGroup],
      environment: this.environment(props, securityGroup),
      bundling: config ? { commandHooks: new BundledConfigFile(config) } : undefined,
      // A cap: any caller allowed to invoke complete could otherwise use up the account's concurrency and
      // throttle handleMessage.
      reservedConcurrentExecutions: props.reservedConcurrency,
    });
    this.providerSecret.grantRead(this.function);
    // Streamed invocations (middy's streaming mode): chat completions stream their tokens, and every buffered
    // answer keeps its shape through the prelude the handler writes.
    this.url = this.function.addFunctionUrl({
      authType: FunctionUrlAuthType.AWS_IAM,
      invokeMode: InvokeMode.RESPONSE_STREAM,
    });

    if (config?.bedrock.length) {
      const stack = Stack.of(this);
      new BedrockAccess(this, 'Bedrock', {
        vpc: props.vpc,
        grantee: this.function,
        clientSecurityGroup: securityGroup,
        deployments: config.bedrock,
        scope: { partition: stack.partition, account: stack.account, region: stack.region },
      });
    }
  }

  /** complete's variables: the stack's own, then the file's non-key `os.environ/` values. */
  private environment(props: LlmPoolProps, securityGroup: SecurityGroup): Record<string, string> {
    const config = props.llmConfig;
    const ollamaOption = props.ollamaEndpointServiceName ?? props.ollamaBaseUrl;
    if (!ollamaOption && config?.ollamaWithoutBase.length) {
      throw new LlmConfigError(
        `LLM_CONFIG (${config.path}): the Ollama deployment ${config.ollamaWithoutBase.join(', ')} has no api_base and the stack no Ollama endpoint. Set -c ollamaBaseUrl=http://… or -c ollamaEndpointServiceName=com.amazonaws.vpce.…, or give it an api_base in the file.`,
      );
    }
    if (!ollamaOption && !config) {
      Annotations.of(this).addWarning(
        'the fast group will be unavailable: set -c ollamaBaseUrl=… or -c ollamaEndpointServiceName=…',
      );
    }
    const environment: Record<string, string> = {
      PROVIDER_SECRET_ARN: this.providerSecret.secretArn,
      POWERTOOLS_SERVICE_NAME: 'complete',
    };
    // A file that reads Ollama's URL from OLLAMA_BASE_URL itself gets the deploying shell's value, unless an
    // Ollama option also sets it (then the collision below asks for one of them).
    if (ollamaOption || !config?.environment.OLLAMA_BASE_URL) {
      environment.OLLAMA_BASE_URL = this.ollamaUrl(props, securityGroup);
    }
    if (!config) return environment;
    environment.LLM_CONFIG = `${TASK_ROOT}/${config.bundledName}`;
    for (const [name, value] of Object.entries(config.environment)) {
      if (Object.hasOwn(environment, name)) {
        throw new LlmConfigError(
          `LLM_CONFIG (${config.path}) uses os.environ/${name}, which the stack sets on complete itself${name === 'OLLAMA_BASE_URL' ? ' from -c ollamaBaseUrl / -c ollamaEndpointServiceName' : ''}: name another variable in the file.`,
        );
      }
      environment[name] = value;
    }
    return environment;
  }

  private ollamaUrl(props: LlmPoolProps, completeSecurityGroup: SecurityGroup): string {
    if (!props.ollamaEndpointServiceName) return props.ollamaBaseUrl ?? 'http://localhost:11434';
    const endpointSecurityGroup = new SecurityGroup(this, 'OllamaEndpointSecurityGroup', {
      vpc: props.vpc,
      description: 'Ollama endpoint: only the complete function may connect',
      allowAllOutbound: false,
    });
    endpointSecurityGroup.addIngressRule(
      Peer.securityGroupId(completeSecurityGroup.securityGroupId),
      Port.tcp(OLLAMA_PORT),
      'complete to Ollama',
    );
    const endpoint = new InterfaceVpcEndpoint(this, 'OllamaEndpoint', {
      vpc: props.vpc,
      service: new InterfaceVpcEndpointService(props.ollamaEndpointServiceName, OLLAMA_PORT),
      subnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [endpointSecurityGroup],
      privateDnsEnabled: false,
      open: false,
    });
    // DNS entries are "hosted-zone-id:dns-name"; the first is the regional name.
    return `http://${Fn.select(1, Fn.split(':', Fn.select(0, endpoint.vpcEndpointDnsEntries)))}:${OLLAMA_PORT}`;
  }
}
