// Retries in seconds: a transient failure and the later records of its FIFO group come back after
// 30 s × the receive count, not after the inbound queue's long visibility timeout.
import { ChangeMessageVisibilityCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { KonstructMessageInput } from '../../functions/common/message.ts';
import { RETRY_BACKOFF_S, type HandlerDeps } from '../../functions/handle-message/app.ts';
import { lambdaContext } from '../../local/lambda-context.ts';
import { toSqsRecord } from '../../local/sqs-event-source.ts';
import { createTenant } from '../helpers/database.ts';
import { captureDuring } from '../helpers/log-capture.ts';
import { konstructMessage, sqsRecord, usePipelineTestbed, type Pipeline } from '../helpers/pipeline.ts';

/** The deployed queue's visibility timeout: a record left to it would block its conversation for 18 minutes. */
const LONG_VISIBILITY_S = 1080;
const SECRET = 'PRIVATE-MESSAGE-TEXT';

const testbed = usePipelineTestbed();

/** The replies queue refuses the reply to `messageId` the first `times` times: a transient failure. */
function publishFailsFor(messageId: string, times: number, extra: Partial<HandlerDeps> = {}) {
  let left = times;
  return (deps: HandlerDeps): HandlerDeps => ({
    ...deps,
    ...extra,
    message: {
      ...deps.message,
      async publishReply(reply, groupId) {
        if (reply.in_reply_to === messageId && left-- > 0) throw new Error('replies queue unreachable');
        await deps.message.publishReply(reply, groupId);
      },
    },
  });
}

/** Three messages of one conversation and one of another, for a new tenant. */
async function conversation(): Promise<{ mine: KonstructMessageInput[]; other: KonstructMessageInput }> {
  const { tenantId } = await createTenant(testbed.db.admin, [{}]);
  const mine = ['first', 'second', 'third'].map((text) =>
    konstructMessage(tenantId, { content: { text: `${SECRET} ${text}` } }),
  );
  const other = konstructMessage(tenantId, { sender: { user_id: 'U999', display_name: 'Lee', is_bot: false } });
  return { mine, other };
}

/** When each in-flight message of `queueUrl` becomes visible again, as the emulator holds it (ms since epoch). */
async function visibleAgainAt(queueUrl: string): Promise<Map<string, number>> {
  const name = queueUrl.split('/').pop()!;
  const response = await fetch(`${process.env.AWS_ENDPOINT_URL}/_fauxqs/queues/${encodeURIComponent(name)}`);
  const queue = (await response.json()) as {
    messages: { inflight: { message: { messageId: string }; visibilityDeadline: number }[] };
  };
  return new Map(queue.messages.inflight.map((m) => [m.message.messageId, m.visibilityDeadline]));
}

/** Makes `records` visible at once, last first (the emulator puts each back at the head of its group). */
async function release(pipeline: Pipeline, records: SQSRecord[]): Promise<void> {
  for (const r of [...records].reverse()) {
    await pipeline.sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: pipeline.queues.inbound,
        ReceiptHandle: r.receiptHandle,
        VisibilityTimeout: 0,
      }),
    );
  }
}

/** Asserts that exactly `ids` are in flight, each visible again `seconds` after the invocation (between `before` and `after`). */
async function expectVisibleAgainAfter(
  pipeline: Pipeline,
  ids: string[],
  seconds: number,
  before: number,
  after: number,
) {
  const deadlines = await visibleAgainAt(pipeline.queues.inbound);
  expect([...deadlines.keys()].sort()).toEqual([...ids].sort());
  for (const id of ids) {
    expect(deadlines.get(id)).toBeGreaterThanOrEqual(before + seconds * 1000);
    expect(deadlines.get(id)).toBeLessThanOrEqual(after + seconds * 1000);
  }
}

describe('a transient failure is visible again after 30 s × its receive count, not the queue visibility timeout', () => {
  it('30 s after receive 1, 60 s after receive 2; the other conversation is answered, and this one in order once it succeeds', async () => {
    const { mine, other } = await conversation();
    const pipeline = await testbed.start({
      eventSource: false,
      visibilityTimeoutS: LONG_VISIBILITY_S,
      wrap: publishFailsFor(mine[0]!.id, 2),
    });
    const [first] = [await pipeline.send(mine[0]!), await pipeline.send(mine[1]!), await pipeline.send(other)];

    for (const receive of [1, 2]) {
      const before = Date.now();
      const { records, result } = await pipeline.deliver({ release: false });
      const after = Date.now();
      expect(result!.batchItemFailures).toEqual([{ itemIdentifier: first!.messageId }]);
      await expectVisibleAgainAfter(pipeline, [first!.messageId], RETRY_BACKOFF_S * receive, before, after);
      await release(
        pipeline,
        records.filter((r) => r.messageId === first!.messageId),
      );
    }
    // Receive 3: the replies queue is back; the emulator hands out one record of a group at a time.
    expect((await pipeline.deliver()).result!.batchItemFailures).toEqual([]);
    expect((await pipeline.deliver()).result!.batchItemFailures).toEqual([]);
    const replies = await pipeline.replies(3);
    const inReplyTo = replies.map((r) => r.body.in_reply_to);
    expect(inReplyTo.filter((id) => id !== other.id)).toEqual([mine[0]!.id, mine[1]!.id]);
    expect(inReplyTo).toContain(other.id);
  });
});

describe('the later records of its FIFO group, returned with it, get the same visibility', () => {
  it('a batch of three records of one group whose first fails on its second receive: all three visible again after 60 s', async () => {
    const { mine } = await conversation();
    const pipeline = await testbed.start({
      eventSource: false,
      visibilityTimeoutS: LONG_VISIBILITY_S,
      wrap: publishFailsFor(mine[0]!.id, 1),
    });
    // SQS may hand over several records of one group in a batch; the emulator hands out one per group per
    // receive. So the batch is made of real in-flight messages sent in three groups, labelled with one group
    // as SQS labels them, and the first is on its second receive.
    const sent: { messageId: string; groupId: string }[] = [];
    for (const [i, message] of mine.entries()) sent.push(await pipeline.send({ ...message, thread_id: `thread-${i}` }));
    const { Messages = [] } = await pipeline.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: pipeline.queues.inbound,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
      }),
    );
    expect(Messages.map((m) => m.MessageId)).toEqual(sent.map((s) => s.messageId));
    const records = Messages.map((m, i) => {
      const record = toSqsRecord(m, 'arn:aws:sqs:us-east-1:000000000000:inbound.fifo', 'us-east-1');
      record.attributes.MessageGroupId = sent[0]!.groupId;
      if (i === 0) record.attributes.ApproximateReceiveCount = '2';
      return record;
    });

    const before = Date.now();
    const result = await pipeline.handler({ Records: records }, lambdaContext('handleMessage', 180_000));
    const after = Date.now();
    expect(result.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(sent.map((s) => s.messageId));
    await expectVisibleAgainAfter(
      pipeline,
      sent.map((s) => s.messageId),
      RETRY_BACKOFF_S * 2,
      before,
      after,
    );
  });
});

describe('through the local event source, a failed record and its group are delivered again within the backoff', () => {
  it('with a 1 s backoff per receive and an 18-minute queue visibility timeout, both messages of the conversation are answered, in order', async () => {
    const { mine } = await conversation();
    const pipeline = await testbed.start({
      visibilityTimeoutS: LONG_VISIBILITY_S,
      concurrency: 1,
      wrap: publishFailsFor(mine[0]!.id, 1, { retryBackoffSeconds: 1 }),
    });
    await pipeline.send(mine[0]!);
    await pipeline.send(mine[1]!);
    // Generous for a 1 s backoff; a record left to the queue's timeout would come back after 18 minutes.
    const replies = await pipeline.replies(2, 20_000);
    expect(replies.map((r) => r.body.in_reply_to)).toEqual([mine[0]!.id, mine[1]!.id]);
  });
});

describe('a visibility change that fails never loses the record', () => {
  const invoke = (pipeline: Pipeline, records: SQSRecord[]) =>
    captureDuring(async () => {
      result = await pipeline.handler({ Records: records }, lambdaContext('handleMessage', 180_000));
    });
  let result: Awaited<ReturnType<Pipeline['handler']>> | undefined;

  it('SQS refuses the batch change (receipt handles it never issued): both records are still reported failed, logged by id and code without content', async () => {
    const { mine } = await conversation();
    const pipeline = await testbed.start({ eventSource: false, wrap: publishFailsFor(mine[0]!.id, 1) });
    const records = mine.slice(0, 2).map((m) => sqsRecord(JSON.stringify(m), { groupId: 'g1' }));
    const output = await invoke(pipeline, records);
    expect(result!.batchItemFailures.map((f) => f.itemIdentifier)).toEqual(records.map((r) => r.messageId));
    const warning = output.records().find((line) => String(line.message).includes('could not be shortened'));
    expect(warning).toMatchObject({
      level: 'WARN',
      sqs_message_ids: records.map((r) => r.messageId),
      error: 'VisibilityChangeError',
    });
    expect((warning!.refused as { messageId: string; code: string }[]).map((r) => r.messageId)).toEqual(
      records.map((r) => r.messageId),
    );
    expect(output.text()).not.toContain(SECRET);
  });

  it('the change call throws: the record is still reported failed, and the error text is not logged', async () => {
    const { mine } = await conversation();
    const pipeline = await testbed.start({
      eventSource: false,
      wrap: publishFailsFor(mine[0]!.id, 1, {
        retryAfter: async () => {
          throw new Error(`socket hang up near ${SECRET}`);
        },
      }),
    });
    const [record] = [sqsRecord(JSON.stringify(mine[0]!))];
    const output = await invoke(pipeline, [record!]);
    expect(result!.batchItemFailures).toEqual([{ itemIdentifier: record!.messageId }]);
    expect(output.records().some((line) => String(line.message).includes('could not be shortened'))).toBe(true);
    expect(output.text()).not.toContain(SECRET);
  });
});
