// The SQS adapter: publishing KonstructMessages, replies and dead letters to FIFO queues.
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  conversationKey,
  deduplicationId,
  messageGroupId,
  parseKonstructMessage,
  serializeReply,
  type KonstructMessageInput,
  type Reply,
} from './message.ts';

/**
 * The SQS client every part uses. Requests go to the region's endpoint, or `AWS_ENDPOINT_URL` — never to
 * the host inside a queue URL, which emulators make up (`sqs.us-east-1.localhost` resolves nowhere).
 */
export function createSqsClient(): SQSClient {
  return new SQSClient({ useQueueUrlAsEndpoint: false });
}

export class InvalidMessageError extends Error {
  override name = 'InvalidMessageError';
}

/**
 * Validates `message` and publishes it to the inbound FIFO queue: group `{tenant_id}:{conversation}`
 * (one ordered lane per conversation), deduplication id the message `id` (SHA-256 when not SQS-safe).
 */
export async function enqueueMessage(
  message: KonstructMessageInput,
  target: { sqs: SQSClient; queueUrl: string },
): Promise<{ messageId: string; groupId: string }> {
  const parsed = parseKonstructMessage(message);
  if (!parsed.ok) throw new InvalidMessageError(parsed.reason);
  const valid = parsed.message;
  const groupId = messageGroupId(valid.tenant_id, conversationKey(valid));
  const sent = await target.sqs.send(
    new SendMessageCommand({
      QueueUrl: target.queueUrl,
      MessageBody: JSON.stringify(message),
      MessageGroupId: groupId,
      MessageDeduplicationId: deduplicationId(valid.id),
    }),
  );
  return { messageId: sent.MessageId ?? '', groupId };
}

/** Publishes a reply: same group as its message; deduplication id the reply id, so a re-publish within 5 minutes is dropped. */
export async function publishReply(sqs: SQSClient, queueUrl: string, reply: Reply, groupId: string): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: serializeReply(reply),
      MessageGroupId: groupId,
      MessageDeduplicationId: reply.id,
    }),
  );
}

export const MAX_ERROR_ATTRIBUTE = 256;
/** Receives of an inbound record before SQS moves it to the DLQ (the redrive policy of the stack and the local queues). */
export const MAX_RECEIVE_COUNT = 3;

/** Sends a record that can never succeed to the DLQ with the reason in its `error` attribute. */
export async function sendToDeadLetter(
  sqs: SQSClient,
  dlqUrl: string,
  record: { body: string; messageId: string; groupId: string },
  reason: string,
): Promise<void> {
  await sqs.send(
    new SendMessageCommand({
      QueueUrl: dlqUrl,
      MessageBody: record.body,
      MessageGroupId: record.groupId,
      MessageDeduplicationId: record.messageId,
      MessageAttributes: { error: { DataType: 'String', StringValue: reason.slice(0, MAX_ERROR_ATTRIBUTE) } },
    }),
  );
}

/**
 * The URL of the queue an event source ARN names, as AWS builds it. The host matters only to emulators that
 * match whole URLs: the client sends to the region's endpoint or `AWS_ENDPOINT_URL` regardless.
 */
export function queueUrlFromArn(arn: string): string {
  const [, partition, , region, account, name] = arn.split(':');
  if (!region || !account || !name) throw new Error('not an SQS queue ARN');
  const domain = partition === 'aws-cn' ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://sqs.${region}.${domain}/${account}/${name}`;
}

/** SQS's upper bound for a visibility timeout (12 hours). */
const MAX_VISIBILITY_S = 43_200;

/** Some records' visibility could not be changed: their ids and SQS's error codes, never their content. */
export class VisibilityChangeError extends Error {
  override name = 'VisibilityChangeError';
  constructor(readonly failed: { messageId: string; code: string }[]) {
    super(`the visibility of ${failed.length} record(s) could not be changed`);
  }
}

/**
 * Makes in-flight records visible again after their `seconds`: one call for one record, batches of ten for
 * more. Throws VisibilityChangeError naming the records SQS refused; a failed call throws the SDK's error.
 */
export async function changeVisibility(
  sqs: SQSClient,
  queueUrl: string,
  entries: readonly { messageId: string; receiptHandle: string; seconds: number }[],
): Promise<void> {
  const timeout = (seconds: number) => Math.min(MAX_VISIBILITY_S, Math.max(0, Math.round(seconds)));
  if (entries.length === 1) {
    const [only] = entries as [(typeof entries)[0]];
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl,
        ReceiptHandle: only.receiptHandle,
        VisibilityTimeout: timeout(only.seconds),
      }),
    );
    return;
  }
  const failed: { messageId: string; code: string }[] = [];
  for (let i = 0; i < entries.length; i += 10) {
    const chunk = entries.slice(i, i + 10);
    const result = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: queueUrl,
        Entries: chunk.map((e, j) => ({
          Id: String(j),
          ReceiptHandle: e.receiptHandle,
          VisibilityTimeout: timeout(e.seconds),
        })),
      }),
    );
    for (const f of result.Failed ?? [])
      failed.push({ messageId: chunk[Number(f.Id)]?.messageId ?? '?', code: f.Code ?? 'unknown' });
  }
  if (failed.length > 0) throw new VisibilityChangeError(failed);
}
