// The LLM pool: the `complete` router function in private subnets behind an IAM-authenticated Function URL,
// its provider secret, and the way to Ollama (a private URL, or an interface endpoint to an endpoint service).
import { Duration, Fn, RemovalPolicy } from 'aws-cdk-lib';
import {
  InterfaceVpcEndpoint,
  InterfaceVpcEndpointService,
  Peer,
  Port,
  SecurityGroup,
  SubnetType,
  type IVpc,
} from 'aws-cdk-lib/aws-ec2';
import { FunctionUrlAuthType, type FunctionUrl } from 'aws-cdk-lib/aws-lambda';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { konstructFunction } from './konstruct-function.ts';

const OLLAMA_PORT = 11434;

export interface LlmPoolProps {
  readonly vpc: IVpc;
  /** Ollama's private base URL, e.g. `http://10.0.1.5:11434`. */
  readonly ollamaBaseUrl?: string;
  /** An endpoint service in front of Ollama; an interface VPC endpoint to it is created. Wins over `ollamaBaseUrl`. */
  readonly ollamaEndpointServiceName?: string;
  /** An existing provider secret `{ anthropic_api_key, openai_api_key }`. @default a new, empty secret to fill in */
  readonly providerSecretArn?: string;
}

export class LlmPool extends Construct {
  readonly function: NodejsFunction;
  readonly url: FunctionUrl;
  readonly providerSecret: ISecret;

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

    this.function = konstructFunction(this, 'Complete', {
      function: 'complete',
      memorySize: 1024,
      timeout: Duration.seconds(120),
      vpc: props.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      securityGroups: [securityGroup],
      environment: {
        PROVIDER_SECRET_ARN: this.providerSecret.secretArn,
        OLLAMA_BASE_URL: this.ollamaUrl(props, securityGroup),
        POWERTOOLS_SERVICE_NAME: 'complete',
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
    this.providerSecret.grantRead(this.function);
    this.url = this.function.addFunctionUrl({ authType: FunctionUrlAuthType.AWS_IAM });
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
