// handleMessage one delivery at a time, driven by the test: what each delivery publishes, dead-letters and
// returns as failed is observed directly, and a redelivery comes at once instead of after a visibility timeout.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Reply } from '../../functions/common/message.ts';
import { createTenant } from '../helpers/database.ts';
import { konstructMessage, usePipeline, type Pipeline } from '../helpers/pipeline.ts';

/** How many of the next sends to SQS fail, as an SQS outage would make them. */
const failNext = { publish: 0, deadLetter: 0 };
/** Every reply the handler tried to publish, failed attempts included. */
const attempted: Reply[] = [];
const sqsOutage = () => Object.assign(new Error('service unavailable'), { name: 'ServiceUnavailable' });

const {
  fakes,
  db,
  pipeline: flaky,
  start,
} = usePipeline({
  eventSource: false,
  wrap: (deps) => ({
    ...deps,
    message: {
      ...deps.message,
      publishReply: (reply, groupId) => {
        attempted.push(reply);
        return failNext.publish-- > 0 ? Promise.reject(sqsOutage()) : deps.message.publishReply(reply, groupId);
      },
    },
    deadLetter: (record, reason) =>
      failNext.deadLetter-- > 0 ? Promise.reject(sqsOutage()) : deps.deadLetter(record, reason),
  }),
});
afterEach(() => {
  failNext.publish = 0;
  failNext.deadLetter = 0;
  attempted.length = 0;
  flaky.published.length = 0;
  flaky.deadLettered.length = 0;
});

describe('a reply whose publish failed after the exchange was stored', () => {
  it('is re-published on redelivery with the same reply id, without a second LLM call', async () => {
    const { tenantId } = await createTenant(db.admin);
    const message = konstructMessage(tenantId);
    await flaky.send(message);

    failNext.publish = 1;
    const first = await flaky.deliver();
    const messageId = first.records[0]!.messageId;
    expect(first.records.map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['1']);
    expect(first.result).toEqual({ batchItemFailures: [{ itemIdentifier: messageId }] });
    const { rows } = await db.admin.query<{ id: string }>(
      `SELECT id FROM conversation_messages WHERE source_message_id = $1 AND role = 'assistant'`,
      [message.id],
    );
    expect(rows.map((r) => r.id)).toEqual([attempted[0]!.id]);
    expect(flaky.published).toEqual([]);
    expect(fakes.anthropic.count).toBe(1);

    const second = await flaky.deliver();
    expect(second.records.map((r) => [r.messageId, r.attributes.ApproximateReceiveCount])).toEqual([[messageId, '2']]);
    expect(second.result).toEqual({ batchItemFailures: [] });
    expect(fakes.anthropic.count).toBe(1);
    expect(flaky.published.map((p) => p.reply)).toEqual([attempted[0]]);
    const [reply] = await flaky.replies(1);
    expect(reply!.body).toMatchObject({
      id: rows[0]!.id,
      in_reply_to: message.id,
      content: { text: 'answer from anthropic' },
      fallback: false,
    });
    expect(reply!.deduplicationId).toBe(rows[0]!.id);
    expect((await flaky.deliver()).records).toEqual([]);
  });
});

describe('a dead letter that cannot be sent', () => {
  it('leaves the record in batchItemFailures, so the next delivery dead-letters it', async () => {
    const { tenantId } = await createTenant(db.admin, [{ is_active: false }]);
    await flaky.send(konstructMessage(tenantId));

    failNext.deadLetter = 1;
    const first = await flaky.deliver();
    const messageId = first.records[0]!.messageId;
    expect(first.result).toEqual({ batchItemFailures: [{ itemIdentifier: messageId }] });
    expect(flaky.deadLettered).toEqual([]);

    const second = await flaky.deliver();
    expect(second.records.map((r) => [r.messageId, r.attributes.ApproximateReceiveCount])).toEqual([[messageId, '2']]);
    expect(second.result).toEqual({ batchItemFailures: [] });
    expect(flaky.deadLettered).toEqual([{ messageId, reason: 'the tenant has no active agent' }]);
    const [dead] = await flaky.deadLetters(1);
    expect(dead!.attributes.error).toBe('the tenant has no active agent');
    expect(fakes.anthropic.count).toBe(0);
  });
});

describe('HISTORY_LIMIT', () => {
  let limited: Pipeline;
  beforeAll(async () => {
    limited = await start({ eventSource: false, env: { HISTORY_LIMIT: '4' } });
  });

  it('sends the newest HISTORY_LIMIT turns of the conversation to the model, oldest first', async () => {
    const { tenantId, agentIds } = await createTenant(db.admin);
    // Six stored exchanges, a minute apart; both turns of one exchange share its transaction's time.
    for (let i = 1; i <= 6; i++) {
      await db.admin.query(
        `INSERT INTO conversation_messages (id, tenant_id, agent_id, conversation_key, role, content, source_message_id, channel, created_at)
         VALUES (gen_random_uuid(), $1, $2, 'limit', 'user', $3, $5, 'slack', now() - make_interval(mins => 10 - $6)),
                (gen_random_uuid(), $1, $2, 'limit', 'assistant', $4, $5, 'slack', now() - make_interval(mins => 10 - $6))`,
        [tenantId, agentIds[0], `question ${i}`, `answer ${i}`, `old-${i}`, i],
      );
    }
    await limited.send(konstructMessage(tenantId, { thread_id: 'limit', content: { text: 'question 7' } }));
    expect((await limited.deliver()).result).toEqual({ batchItemFailures: [] });
    expect(fakes.anthropic.requests.map((r) => r.body.messages)).toEqual([
      [
        { role: 'user', content: 'question 5' },
        { role: 'assistant', content: 'answer 5' },
        { role: 'user', content: 'question 6' },
        { role: 'assistant', content: 'answer 6' },
        { role: 'user', content: 'question 7' },
      ],
    ]);
  });
});
