// Transient failures retry only what they must, and a load of 500 messages loses and duplicates nothing.
import { describe, expect, it } from 'vitest';
import { withTenant } from '../../functions/common/db.ts';
import { messageGroupId } from '../../functions/common/message.ts';
import { lambdaContext } from '../../local/lambda-context.ts';
import { createTenant, unreachableDatabase } from '../helpers/database.ts';
import { konstructMessage, sqsRecord, usePipelineTestbed } from '../helpers/pipeline.ts';

const { fakes, db, start } = usePipelineTestbed();

/** A pipeline whose database is unreachable (a real refused connection) for one tenant. */
async function pipelineWithOutageFor(tenantId: string, options: { eventSource: boolean }) {
  const deadPool = await unreachableDatabase();
  return start({
    ...options,
    wrap: (deps) => ({
      ...deps,
      message: {
        ...deps.message,
        withTenant: (tenant, fn) =>
          tenant === tenantId ? withTenant(deadPool, tenant, fn) : deps.message.withTenant(tenant, fn),
      },
    }),
  });
}

describe('transient failures', () => {
  it('return the failed record and only the later records of its group in batchItemFailures', async () => {
    const healthy = await createTenant(db.admin);
    const broken = await createTenant(db.admin);
    const pipeline = await pipelineWithOutageFor(broken.tenantId, { eventSource: false });
    const ok1 = konstructMessage(healthy.tenantId, { thread_id: 'g1' });
    const bad = konstructMessage(broken.tenantId, { thread_id: 'g2' });
    const blocked = konstructMessage(broken.tenantId, { thread_id: 'g2' });
    const ok2 = konstructMessage(healthy.tenantId, { thread_id: 'g3' });
    const result = await pipeline.handler(
      {
        Records: [
          sqsRecord(JSON.stringify(ok1), { groupId: messageGroupId(healthy.tenantId, 'g1'), messageId: 'r1' }),
          sqsRecord(JSON.stringify(bad), { groupId: messageGroupId(broken.tenantId, 'g2'), messageId: 'r2' }),
          sqsRecord(JSON.stringify(blocked), { groupId: messageGroupId(broken.tenantId, 'g2'), messageId: 'r3' }),
          sqsRecord(JSON.stringify(ok2), { groupId: messageGroupId(healthy.tenantId, 'g3'), messageId: 'r4' }),
        ],
      },
      lambdaContext('handleMessage', 180_000),
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'r2' }, { itemIdentifier: 'r3' }] });
    expect(pipeline.published.map((p) => p.reply.in_reply_to).sort()).toEqual([ok1.id, ok2.id].sort());
    expect(pipeline.deadLettered).toEqual([]);
  });

  it("reaches the DLQ after 3 receives (the inbound queue's redrive policy)", async () => {
    const broken = await createTenant(db.admin);
    const pipeline = await pipelineWithOutageFor(broken.tenantId, { eventSource: false });
    const message = konstructMessage(broken.tenantId);
    await pipeline.send(message);
    // Each delivery fails and the message becomes visible again at once, as after its visibility timeout.
    const receives: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { records, result } = await pipeline.deliver();
      expect(records.map((r) => r.body)).toEqual([JSON.stringify(message)]);
      receives.push(records[0]!.attributes.ApproximateReceiveCount);
      if (i < 2) expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: records[0]!.messageId }] });
    }
    expect(receives).toEqual(['1', '2', '3']);
    // The receive after the third moves it to the DLQ instead of delivering it (or the third dead-lettered it).
    expect((await pipeline.deliver()).records).toEqual([]);
    const [dead] = await pipeline.deadLetters(1);
    expect(dead?.body).toEqual(message);
    expect(fakes.anthropic.count).toBe(0);
  });
});

describe('load', () => {
  it('answers 500 messages across 50 conversations: none lost, none duplicated', async () => {
    const { tenantId } = await createTenant(db.admin);
    const pipeline = await start({ concurrency: 4, batchSize: 10 });
    const messages = Array.from({ length: 500 }, (_, i) =>
      konstructMessage(tenantId, { thread_id: `conv-${i % 50}`, content: { text: `message ${i}` } }),
    );
    for (let i = 0; i < messages.length; i += 25)
      await Promise.all(messages.slice(i, i + 25).map((m) => pipeline.send(m)));
    const replies = await pipeline.replies(500, 90_000);
    const answered = replies.map((r) => r.body.in_reply_to);
    expect(new Set(answered).size).toBe(answered.length);
    expect(new Set(answered)).toEqual(new Set(messages.map((m) => m.id)));
    // Published once each: the replies queue would drop a second copy, so count what the handler sent.
    expect(pipeline.published).toHaveLength(500);
    const { rows } = await db.admin.query(
      `SELECT role, count(*)::int AS n FROM conversation_messages WHERE tenant_id = $1 GROUP BY role ORDER BY role`,
      [tenantId],
    );
    expect(rows).toEqual([
      { role: 'assistant', n: 500 },
      { role: 'user', n: 500 },
    ]);
  }, 120_000);
});
