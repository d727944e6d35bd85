// An SQS event-source emulator: long-polls a queue like Lambda's event-source mapping, invokes the
// real handler with real SQS event records, deletes successes and leaves failures to reappear.
import { randomUUID } from 'node:crypto';
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { lambdaContext } from './lambda-context.ts';

export type SqsHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

export interface EventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  region: string;
  handler: SqsHandler;
  functionName: string;
  /** The function's timeout; the handler's context counts down from it. */
  timeoutMs: number;
  /** Records per invocation (Lambda's batch size), 1–10. @default 10 */
  batchSize?: number;
  /** Pollers running at once, like Lambda's concurrent invocations. @default 4 */
  concurrency?: number;
  /** Long-poll wait per receive. @default 2 */
  waitTimeSeconds?: number;
  onError?: (err: unknown) => void;
  /** Polling starts once this resolves (the runtime opens it when it is ready). */
  ready?: Promise<void>;
}

export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const a = message.Attributes ?? {};
  const messageAttributes: SQSRecord['messageAttributes'] = {};
  for (const [name, value] of Object.entries(message.MessageAttributes ?? {})) {
    messageAttributes[name] = {
      dataType: value.DataType ?? 'String',
      ...(value.StringValue !== undefined && { stringValue: value.StringValue }),
      ...(value.BinaryValue !== undefined && { binaryValue: Buffer.from(value.BinaryValue).toString('base64') }),
      stringListValues: [],
      binaryListValues: [],
    };
  }
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? '000000000000',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(a.SequenceNumber && { SequenceNumber: a.SequenceNumber }),
      ...(a.MessageGroupId && { MessageGroupId: a.MessageGroupId }),
      ...(a.MessageDeduplicationId && { MessageDeduplicationId: a.MessageDeduplicationId }),
    },
    messageAttributes,
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

export interface StopOptions {
  /** How long the batches in flight may go on once polling has stopped. @default until they finish */
  graceMs?: number;
  /** Called when batches outlast the grace period; it must make their handlers give up (their records stay in the queue). */
  abandon?: () => void;
  /** How long to wait for the handlers after `abandon`. @default 500 */
  settleMs?: number;
}

export interface EventSource {
  /**
   * Aborts the long polls at once and lets the batches in flight finish — for at most `graceMs` when given,
   * then abandons the rest; resolves when every poller is done (or `settleMs` after abandoning).
   */
  stop(options?: StopOptions): Promise<void>;
}

export function startEventSource(options: EventSourceOptions): EventSource {
  const abort = new AbortController();
  const { sqs, queueUrl } = options;

  async function pollOnce(): Promise<void> {
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: options.batchSize ?? 10,
        WaitTimeSeconds: options.waitTimeSeconds ?? 2,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
        ReceiveRequestAttemptId: randomUUID(),
      }),
      { abortSignal: abort.signal },
    );
    const messages = received.Messages ?? [];
    if (messages.length === 0) return;
    const records = messages.map((m) => toSqsRecord(m, options.queueArn, options.region));
    let failed: Set<string>;
    try {
      const response = await options.handler(
        { Records: records },
        lambdaContext(options.functionName, options.timeoutMs),
      );
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (err) {
      options.onError?.(err);
      return; // a handler that throws failed its whole batch: every record reappears after its visibility timeout
    }
    const done = records.filter((r) => !failed.has(r.messageId));
    for (let i = 0; i < done.length; i += 10) {
      await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.slice(i, i + 10).map((r, j) => ({ Id: String(j), ReceiptHandle: r.receiptHandle })),
        }),
      );
    }
  }

  const stopped = new Promise<void>((resolve) =>
    abort.signal.addEventListener('abort', () => resolve(), { once: true }),
  );

  async function poller(): Promise<void> {
    await Promise.race([options.ready, stopped]); // stopping before ready must not wait for it
    while (!abort.signal.aborted) {
      try {
        await pollOnce();
      } catch (err) {
        if (abort.signal.aborted) return;
        options.onError?.(err);
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  const pollers = Array.from({ length: options.concurrency ?? 4 }, poller);
  const finished = Promise.allSettled(pollers).then(() => true);
  const after = (ms: number) => new Promise<false>((resolve) => setTimeout(() => resolve(false), ms).unref());
  return {
    async stop({ graceMs, abandon, settleMs = 500 }: StopOptions = {}) {
      abort.abort();
      if (graceMs === undefined) return void (await finished);
      if (await Promise.race([finished, after(graceMs)])) return;
      abandon?.();
      await Promise.race([finished, after(settleMs)]);
    },
  };
}
