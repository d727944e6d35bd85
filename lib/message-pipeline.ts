// The message pipeline: FIFO inbound queue (with its DLQ) → handleMessage → FIFO replies queue.
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { SubnetType, type IVpc } from 'aws-cdk-lib/aws-ec2';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { MAX_RECEIVE_COUNT } from '../functions/common/queue.ts';
import { konstructFunction } from './konstruct-function.ts';
import type { Database } from './database.ts';

/** handleMessage's timeout; the inbound queue's visibility timeout is 6× this. */
export const HANDLE_MESSAGE_TIMEOUT = Duration.seconds(180);

export interface MessagePipelineProps {
  readonly vpc: IVpc;
  readonly database: Database;
  /** The `complete` function; handleMessage may call only its Function URL. */
  readonly complete: IFunction;
  readonly completeUrl: string;
  /** Records per invocation. @default 5 */
  readonly batchSize?: number;
  /** Concurrent handleMessage invocations the queue may drive. @default 10 */
  readonly maxConcurrency?: number;
  /** Turns of history sent to the model. @default 20 */
  readonly historyLimit?: number;
}

export class MessagePipeline extends Construct {
  readonly inbound: Queue;
  readonly deadLetters: Queue;
  readonly replies: Queue;
  readonly function: NodejsFunction;

  constructor(scope: Construct, id: string, props: MessagePipelineProps) {
    super(scope, id);
    const fifo = {
      fifo: true,
      contentBasedDeduplication: false,
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    };
    this.deadLetters = new Queue(this, 'InboundDlq', {
      ...fifo,
      retentionPeriod: Duration.days(14),
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.inbound = new Queue(this, 'Inbound', {
      ...fifo,
      visibilityTimeout: Duration.seconds(HANDLE_MESSAGE_TIMEOUT.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetters, maxReceiveCount: MAX_RECEIVE_COUNT },
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.replies = new Queue(this, 'Replies', {
      ...fifo,
      // Consumers are outside this stack; a poisoned reply is theirs to dead-letter.
      removalPolicy: RemovalPolicy.DESTROY,
    });

    this.function = konstructFunction(this, 'HandleMessage', {
      function: 'handleMessage',
      memorySize: 512,
      timeout: HANDLE_MESSAGE_TIMEOUT,
      vpc: props.vpc,
      vpcSubnets: { subnetType: SubnetType.PRIVATE_WITH_EGRESS },
      environment: {
        // Where a transient failure's visibility is shortened (30 s × receive count).
        INBOUND_QUEUE_URL: this.inbound.queueUrl,
        REPLIES_QUEUE_URL: this.replies.queueUrl,
        DLQ_URL: this.deadLetters.queueUrl,
        COMPLETE_URL: props.completeUrl,
        COMPLETE_AUTH: 'iam',
        HISTORY_LIMIT: String(props.historyLimit ?? 20),
        POWERTOOLS_SERVICE_NAME: 'handleMessage',
      },
    });
    Object.entries(props.database.connect(this.function)).forEach(([k, v]) => this.function.addEnvironment(k, v));

    this.function.addEventSource(
      new SqsEventSource(this.inbound, {
        batchSize: props.batchSize ?? 5,
        reportBatchItemFailures: true,
        maxConcurrency: props.maxConcurrency ?? 10,
      }),
    );
    this.replies.grantSendMessages(this.function);
    this.deadLetters.grantSendMessages(this.function);
    // Calling a Function URL with AWS_IAM auth needs both actions, on that one function only.
    this.function.addToRolePolicy(
      new PolicyStatement({
        actions: ['lambda:InvokeFunctionUrl', 'lambda:InvokeFunction'],
        resources: [props.complete.functionArn],
      }),
    );
  }
}
