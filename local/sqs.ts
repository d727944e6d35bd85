// The SQS side of the local runtime: the fauxqs emulator and the three FIFO queues of the stack.
import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { startFauxqs } from 'fauxqs';
import { MAX_RECEIVE_COUNT } from '../functions/common/queue.ts';

export const QUEUE_NAMES = {
  inbound: 'konstruct-inbound.fifo',
  dlq: 'konstruct-inbound-dlq.fifo',
  replies: 'konstruct-replies.fifo',
} as const;

export interface Queues {
  inbound: string;
  dlq: string;
  replies: string;
}

export async function startSqsEmulator(port: number): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const server = await startFauxqs({ port, logger: false });
  return { endpoint: `http://127.0.0.1:${server.port}`, stop: () => server.stop() };
}

/** Creates (or finds) the FIFO queues: inbound with its DLQ (maxReceiveCount 3), and replies. */
export async function ensureQueues(
  sqs: SQSClient,
  options: { visibilityTimeoutS?: number; prefix?: string } = {},
): Promise<Queues> {
  const name = (n: string) => `${options.prefix ?? ''}${n}`;
  const fifo = { FifoQueue: 'true', ContentBasedDeduplication: 'false' };
  const create = async (queueName: string, attributes: Record<string, string>) =>
    (await sqs.send(new CreateQueueCommand({ QueueName: queueName, Attributes: { ...fifo, ...attributes } })))
      .QueueUrl!;
  const dlq = await create(name(QUEUE_NAMES.dlq), { MessageRetentionPeriod: '1209600' });
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq, AttributeNames: ['QueueArn'] })))
    .Attributes!.QueueArn!;
  const inbound = await create(name(QUEUE_NAMES.inbound), {
    VisibilityTimeout: String(options.visibilityTimeoutS ?? 30),
    RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: MAX_RECEIVE_COUNT }),
  });
  const replies = await create(name(QUEUE_NAMES.replies), {});
  return { inbound, dlq, replies };
}
