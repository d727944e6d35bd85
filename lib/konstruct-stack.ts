// The Konstruct LLM core stack: network, LLM pool, database and message pipeline, each owning its resources.
import { CfnOutput, Stack, Token, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { Alarms, EMAIL, TOPIC_ARN } from './alarms.ts';
import { Database } from './database.ts';
import { readLlmConfig, type StackLlmConfig } from './llm-config.ts';
import { COMPLETE_TIMEOUT, LlmPool } from './llm-pool.ts';
import { HANDLE_MESSAGE_TIMEOUT, MessagePipeline } from './message-pipeline.ts';
import { Network, type ExistingVpcAttributes } from './network.ts';
import { suppressAcceptedFindings } from './nag-suppressions.ts';

export interface KonstructStackProps extends StackProps {
  /** An existing VPC by its attributes. @default a new VPC */
  readonly existingVpc?: ExistingVpcAttributes;
  /**
   * The availability zones of a new VPC, so synth never looks them up. @default the region's first two
   * (`<region>a`, `<region>b`) when the region is known; for an environment-agnostic stack, the first two
   * CloudFormation resolves at deploy (`Fn::GetAZs`)
   */
  readonly availabilityZones?: string[];
  /**
   * NAT gateways of a new VPC, the way out to the model APIs and AWS services: 1 is the cheaper, one
   * zone's outage cuts every outside call; 2 (one per zone) for production. @default 1
   */
  readonly natGateways?: number;
  /** Ollama's private base URL. @default 'http://localhost:11434' */
  readonly ollamaBaseUrl?: string;
  /** An endpoint service in front of Ollama (creates an interface VPC endpoint). */
  readonly ollamaEndpointServiceName?: string;
  /** An existing provider secret. @default a new secret to fill in */
  readonly providerSecretArn?: string;
  /** An existing database's master secret (migrations alone use it). @default a new Aurora Serverless v2 cluster behind RDS Proxy */
  readonly databaseSecretArn?: string;
  /**
   * The application's secret for an existing database (`username` konstruct_handler, `password`; a missing host,
   * port or dbname is filled in by the migration step). @default a generated secret
   */
  readonly databaseAppSecretArn?: string;
  /** Host for an existing database instead of its secrets' (e.g. its RDS Proxy), for both logins. */
  readonly databaseHost?: string;
  /** Verify TLS to the database; `false` only with `databaseSecretArn` (a new Aurora requires TLS). @default true */
  readonly databaseTls?: boolean;
  /** Protect a new database cluster from deletion. @default true */
  readonly deletionProtection?: boolean;
  /**
   * The router's configuration file (LiteLLM proxy-config shape), validated at synth and shipped with
   * `complete`: a path (relative to the directory cdk runs in; its `os.environ/` values are read from this
   * process's environment), or one already read by `readLlmConfig`. @default the built-in defaults
   */
  readonly llmConfig?: string | StackLlmConfig;
  /** handleMessage concurrency the inbound queue may drive. @default 10 */
  readonly maxConcurrency?: number;
  /**
   * Concurrency reserved for `complete`, which is also its cap. @default 50: handleMessage's 10 concurrent
   * batches call it one record at a time, which leaves 40 for direct callers; the account keeps its other
   * executions (a reservation needs the account's limit to exceed it by 100).
   */
  readonly completeReservedConcurrency?: number;
  /** Subscribe this address to the alarm topic (SNS asks it to confirm first). */
  readonly alarmEmail?: string;
  /** Send the alarms to this existing SNS topic instead of a new one. @default a new encrypted topic */
  readonly alarmTopicArn?: string;
}

/** A stack configuration that cannot deploy: its message says what to set. */
export class StackConfigError extends Error {
  override name = 'StackConfigError';
}

export const DEFAULT_COMPLETE_RESERVED_CONCURRENCY = 50;

export class KonstructStack extends Stack {
  readonly llmPool: LlmPool;
  readonly pipeline: MessagePipeline;
  readonly database: Database;
  readonly alarms: Alarms;
  private readonly zones: string[] | undefined;

  constructor(scope: Construct, id: string, props: KonstructStackProps = {}) {
    super(scope, id, props);
    if (props.databaseTls === false && !props.databaseSecretArn) {
      // The new Aurora's RDS Proxy requires TLS: an app that refuses it could never connect.
      throw new StackConfigError(
        '-c databaseTls=false is only for an existing database without TLS (-c databaseSecretArn=…): the new Aurora is reached through an RDS Proxy that requires TLS. Remove -c databaseTls=false, or set -c databaseSecretArn=arn:…:secret:… for the existing database.',
      );
    }
    if (props.databaseAppSecretArn && !props.databaseSecretArn) {
      throw new StackConfigError(
        "-c databaseAppSecretArn names the application's secret of an existing database, which also needs its master secret for the migrations: set -c databaseSecretArn=arn:…:secret:…, or remove -c databaseAppSecretArn (a new Aurora generates the application's secret).",
      );
    }
    this.zones =
      props.availabilityZones ?? (Token.isUnresolved(this.region) ? undefined : [`${this.region}a`, `${this.region}b`]);
    const { vpc } = new Network(this, 'Network', {
      existingVpc: props.existingVpc,
      availabilityZones: this.zones,
      natGateways: positiveInteger('natGateways', props.natGateways ?? 1),
    });
    this.llmPool = new LlmPool(this, 'LlmPool', {
      vpc,
      ollamaBaseUrl: props.ollamaBaseUrl,
      ollamaEndpointServiceName: props.ollamaEndpointServiceName,
      providerSecretArn: props.providerSecretArn,
      llmConfig: typeof props.llmConfig === 'string' ? readLlmConfig(props.llmConfig, process.env) : props.llmConfig,
      reservedConcurrency: positiveInteger(
        'completeReservedConcurrency',
        props.completeReservedConcurrency ?? DEFAULT_COMPLETE_RESERVED_CONCURRENCY,
      ),
    });
    this.database = new Database(this, 'Database', {
      vpc,
      existingSecretArn: props.databaseSecretArn,
      existingAppSecretArn: props.databaseAppSecretArn,
      existingHost: props.databaseHost,
      tls: props.databaseTls,
      deletionProtection: props.deletionProtection,
    });
    this.pipeline = new MessagePipeline(this, 'Messages', {
      vpc,
      database: this.database,
      complete: this.llmPool.function,
      completeUrl: this.llmPool.url.url,
      maxConcurrency: props.maxConcurrency,
    });

    this.alarms = new Alarms(this, 'Alarms', {
      alarmEmail: matching('alarmEmail', props.alarmEmail, EMAIL, 'oncall@example.com'),
      alarmTopicArn: matching(
        'alarmTopicArn',
        props.alarmTopicArn,
        TOPIC_ARN,
        'arn:aws:sns:<region>:<account>:<topic>',
      ),
      inbound: this.pipeline.inbound,
      deadLetters: this.pipeline.deadLetters,
      functions: [
        { name: 'HandleMessage', function: this.pipeline.function, timeout: HANDLE_MESSAGE_TIMEOUT },
        { name: 'Complete', function: this.llmPool.function, timeout: COMPLETE_TIMEOUT },
      ],
      groups: this.llmPool.groups,
    });

    new CfnOutput(this, 'CompleteUrl', {
      value: this.llmPool.url.url,
      description: 'complete Function URL (SigV4, service lambda)',
    });
    new CfnOutput(this, 'InboundQueueUrl', {
      value: this.pipeline.inbound.queueUrl,
      description: 'publish KonstructMessages here',
    });
    new CfnOutput(this, 'RepliesQueueUrl', { value: this.pipeline.replies.queueUrl, description: 'agent replies' });
    new CfnOutput(this, 'DeadLetterQueueUrl', {
      value: this.pipeline.deadLetters.queueUrl,
      description: 'messages that could not be answered',
    });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.alarms.topic.topicArn, description: 'where the alarms go' });
    new CfnOutput(this, 'ProviderSecretArn', {
      value: this.llmPool.providerSecret.secretArn,
      description: 'fill in { "anthropic_api_key", "openai_api_key" }',
    });
    suppressAcceptedFindings(this, {
      providerSecret: this.llmPool.providerSecret,
      existingDatabaseAppSecret: this.database.unrotatedSecret,
    });
  }

  /**
   * The stack's zones from configuration: CDK's own getter turns a stack with an account and region into a
   * context lookup, an AWS call at synth (the way CDK documents to avoid it is overriding this getter).
   */
  override get availabilityZones(): string[] {
    return this.zones ?? super.availabilityZones;
  }
}

function positiveInteger(key: string, value: number): number {
  if (Number.isInteger(value) && value > 0) return value;
  throw new StackConfigError(`-c ${key}=${value} is not a positive whole number: set -c ${key}=<1, 2, …>.`);
}

function matching(key: string, value: string | undefined, pattern: RegExp, example: string): string | undefined {
  if (value === undefined || pattern.test(value)) return value;
  throw new StackConfigError(`-c ${key}=${value} is not valid: set -c ${key}=${example}.`);
}
