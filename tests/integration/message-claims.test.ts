// One message id, one LLM call at a time: the claim on (tenant, message id) across message groups and redeliveries.
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { lambdaContext } from '../../local/lambda-context.ts';
import { createTenant } from '../helpers/database.ts';
import { captureOutput } from '../helpers/log-capture.ts';
import { konstructMessage, sqsRecord, usePipeline } from '../helpers/pipeline.ts';

const { fakes, db, pipeline } = usePipeline({ eventSource: false });

const invoke = (r: SQSRecord, remainingMs = 180_000) =>
  pipeline.handler({ Records: [r] }, lambdaContext('handleMessage', remainingMs));

async function repliesWaiting(): Promise<number> {
  const { Attributes } = await pipeline.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: pipeline.queues.replies,
      AttributeNames: ['ApproximateNumberOfMessages'],
    }),
  );
  return Number(Attributes!.ApproximateNumberOfMessages);
}

async function claimOf(tenantId: string, messageId: string) {
  const { rows } = await db.admin.query<{ holder_sqs_message_id: string; lease_until: Date }>(
    'SELECT holder_sqs_message_id, lease_until FROM message_claims WHERE tenant_id = $1 AND source_message_id = $2',
    [tenantId, messageId],
  );
  return rows[0];
}

describe('one message id in several message groups at once', () => {
  it('is answered by one LLM call; the replies queue carries one reply', async () => {
    const { tenantId } = await createTenant(db.admin);
    fakes.anthropic.always({ delayMs: 300 }); // all five are past their checks while the first waits for its answer
    const body = JSON.stringify(konstructMessage(tenantId));
    const results = await Promise.all(
      [1, 2, 3, 4, 5].map((i) =>
        invoke(sqsRecord(body, { messageId: `in-group-${i}`, groupId: `${tenantId}:group-${i}` })),
      ),
    );
    expect(results).toEqual(Array(5).fill({ batchItemFailures: [] }));
    expect(fakes.anthropic.count).toBe(1);
    expect(await repliesWaiting()).toBe(1); // re-publishes of the same reply id are deduplicated
    expect((await pipeline.replies(1))[0]!.body.in_reply_to).toBe(JSON.parse(body).id);
  });
});

describe('a live claim held by another SQS message', () => {
  it("acknowledges the other SQS message without a reply or an LLM call, and lets the holder's redelivery take the claim over", async () => {
    const { tenantId } = await createTenant(db.admin);
    const message = konstructMessage(tenantId);
    const body = JSON.stringify(message);
    await db.admin.query(`INSERT INTO message_claims VALUES ($1, $2, 'holder', now() + interval '1 hour')`, [
      tenantId,
      message.id,
    ]);

    const output = captureOutput();
    try {
      expect(await invoke(sqsRecord(body, { messageId: 'another' }))).toEqual({ batchItemFailures: [] });
    } finally {
      output.restore();
    }
    expect(fakes.anthropic.count).toBe(0);
    expect(await repliesWaiting()).toBe(0);
    const lines = output.records().filter((r) => r.sqs_message_id === 'another');
    expect(lines).toHaveLength(1);
    expect(lines[0]!.message).toMatch(/acknowledged without a reply: .*holds its claim/);

    expect(await invoke(sqsRecord(body, { messageId: 'holder', receiveCount: 2 }))).toEqual({ batchItemFailures: [] });
    expect(fakes.anthropic.count).toBe(1);
    const [reply] = await pipeline.replies(1);
    expect(reply!.body.in_reply_to).toBe(message.id);
    expect((await claimOf(tenantId, message.id))!.holder_sqs_message_id).toBe('holder');
  });
});

describe('an expired claim', () => {
  it('may be taken by any SQS message', async () => {
    const { tenantId } = await createTenant(db.admin);
    const message = konstructMessage(tenantId);
    await db.admin.query(`INSERT INTO message_claims VALUES ($1, $2, 'gone', now() - interval '1 second')`, [
      tenantId,
      message.id,
    ]);
    expect(await invoke(sqsRecord(JSON.stringify(message), { messageId: 'latecomer' }))).toEqual({
      batchItemFailures: [],
    });
    expect(fakes.anthropic.count).toBe(1);
    expect((await pipeline.replies(1))[0]!.body.in_reply_to).toBe(message.id);
    expect((await claimOf(tenantId, message.id))!.holder_sqs_message_id).toBe('latecomer');
  });
});

describe('the lease', () => {
  it("lasts the complete call's timeout + 5 s: timeout_ms (remaining − 10 s) + 2 s + 5 s", async () => {
    const { tenantId } = await createTenant(db.admin);
    const message = konstructMessage(tenantId);
    const before = (await db.admin.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0]!.t.getTime();
    await invoke(sqsRecord(JSON.stringify(message), { messageId: 'leased' }), 30_000);
    const after = (await db.admin.query<{ t: Date }>('SELECT clock_timestamp() AS t')).rows[0]!.t.getTime();
    const lease = (await claimOf(tenantId, message.id))!.lease_until.getTime();
    expect(lease).toBeGreaterThanOrEqual(before + 27_000 - 1_000); // `remaining` counts down a little before the claim
    expect(lease).toBeLessThanOrEqual(after + 27_000);
    await pipeline.replies(1);
  });

  it('is not taken once a reply is stored: another SQS message re-publishes the stored reply', async () => {
    const { tenantId } = await createTenant(db.admin);
    const message = konstructMessage(tenantId);
    const body = JSON.stringify(message);
    await invoke(sqsRecord(body, { messageId: 'answered-first' }));
    const [first] = await pipeline.replies(1);
    await db.admin.query(
      `UPDATE message_claims SET lease_until = now() - interval '1 second' WHERE source_message_id = $1`,
      [message.id],
    );
    const output = captureOutput();
    try {
      await invoke(sqsRecord(body, { messageId: 'arrives-later' }));
    } finally {
      output.restore();
    }
    expect(output.records().find((r) => r.sqs_message_id === 'arrives-later')).toMatchObject({
      message: 'reply republished',
      reply_id: first!.body.id,
    });
    expect(fakes.anthropic.count).toBe(1);
    expect((await claimOf(tenantId, message.id))!.holder_sqs_message_id).toBe('answered-first');
  });
});
