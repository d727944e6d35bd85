// handleMessage end to end: SQS record → agent under RLS → complete → fake provider → stored → reply queue.
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FALLBACK_TEXT } from '../../functions/handle-message/run-agent.ts';
import { messageGroupId } from '../../functions/common/message.ts';
import { lambdaContext } from '../../local/lambda-context.ts';
import { createTenant } from '../helpers/database.ts';
import { konstructMessage, sqsRecord, usePipeline, type Pipeline } from '../helpers/pipeline.ts';

const { fakes, db, pipeline, start } = usePipeline();
/** The same pipeline without its event source: each test delivers and observes what the handler did. */
let direct: Pipeline;
beforeAll(async () => {
  direct = await start({ eventSource: false });
});
afterEach(() => {
  direct.published.length = 0;
  direct.deadLettered.length = 0;
});

const llmCalls = () => fakes.anthropic.count + fakes.openai.count + fakes.ollama.count;

describe('a message in, a reply out', () => {
  it('answers with every field of the reply, the agent persona in the system prompt', async () => {
    const { tenantId, agentIds } = await createTenant(db.admin, [
      { name: 'Ava', role: 'Customer Support', persona: 'Cheerful and brief.', system_prompt: 'You work for Acme.' },
    ]);
    const message = konstructMessage(tenantId, { thread_id: 'T-1', channel_metadata: { team: 'T9' } });
    await pipeline.send(message);
    const [reply] = await pipeline.replies(1);
    expect(reply).toBeDefined();
    expect(reply!.body).toMatchObject({
      in_reply_to: message.id,
      tenant_id: tenantId,
      agent_id: agentIds[0],
      channel: 'slack',
      channel_metadata: { team: 'T9' },
      thread_id: 'T-1',
      content: { text: 'answer from anthropic' },
      model: 'anthropic/claude-sonnet-4-20250514',
      usage: { prompt_tokens: 12, completion_tokens: 34 },
      fallback: false,
    });
    expect(reply!.body.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Date.parse(reply!.body.created_at)).not.toBeNaN();
    expect(reply!.groupId).toBe(`${tenantId}:T-1`);
    expect(reply!.deduplicationId).toBe(reply!.body.id);

    const system = fakes.anthropic.requests[0]!.body.system as string;
    expect(system).toBe(
      [
        'You work for Acme.',
        'Your name is Ava. Your role is Customer Support.',
        'Persona: Cheerful and brief.',
        'If asked directly whether you are an AI, always respond honestly that you are an AI assistant.',
      ].join('\n\n'),
    );
    expect(fakes.anthropic.requests[0]!.body.messages).toEqual([{ role: 'user', content: 'Hi!' }]);
  });

  it('stores one user row and one assistant row with every column; the reply id is the assistant row id', async () => {
    const { tenantId, agentIds } = await createTenant(db.admin);
    const message = konstructMessage(tenantId, { content: { text: '  exact text, kept verbatim  ' } });
    await pipeline.send(message);
    const [reply] = await pipeline.replies(1);
    const { rows } = await db.admin.query(
      `SELECT * FROM conversation_messages WHERE source_message_id = $1 ORDER BY seq`,
      [message.id],
    );
    expect(rows).toHaveLength(2);
    const [user, assistant] = rows;
    expect(user).toMatchObject({
      tenant_id: tenantId,
      agent_id: agentIds[0],
      conversation_key: 'slack:U123',
      role: 'user',
      content: '  exact text, kept verbatim  ',
      channel: 'slack',
      model: null,
      prompt_tokens: null,
      completion_tokens: null,
      fallback: false,
    });
    expect(assistant).toMatchObject({
      id: reply!.body.id,
      tenant_id: tenantId,
      agent_id: agentIds[0],
      conversation_key: 'slack:U123',
      role: 'assistant',
      content: 'answer from anthropic',
      channel: 'slack',
      model: 'anthropic/claude-sonnet-4-20250514',
      prompt_tokens: 12,
      completion_tokens: 34,
      fallback: false,
    });
  });

  it('uses the default persona when the agent has none', async () => {
    const { tenantId } = await createTenant(db.admin, [{ name: 'Bo', role: 'Sales', persona: null }]);
    await pipeline.send(konstructMessage(tenantId));
    await pipeline.replies(1);
    expect(fakes.anthropic.requests[0]!.body.system).toBe(
      'Your name is Bo. Your role is Sales.\n\nPersona: Professional and warm.\n\nIf asked directly whether you are an AI, always respond honestly that you are an AI assistant.',
    );
  });

  it("answers with the agent named in context.agent_id, else the tenant's oldest active agent", async () => {
    const { tenantId, agentIds } = await createTenant(db.admin, [
      { name: 'Old', is_active: false },
      { name: 'First' },
      { name: 'Second' },
    ]);
    await pipeline.send(konstructMessage(tenantId));
    await pipeline.send(konstructMessage(tenantId, { sender: { user_id: 'U2' }, context: { agent_id: agentIds[2] } }));
    const replies = await pipeline.replies(2);
    expect(replies.map((r) => r.body.agent_id).sort()).toEqual([agentIds[1], agentIds[2]].sort());
  });
});

describe('idempotency: one message, one reply', () => {
  it('re-publishes the stored reply, with the same id, when the message arrives again under another deduplication id', async () => {
    const { tenantId } = await createTenant(db.admin);
    const message = konstructMessage(tenantId);
    const { groupId } = await direct.send(message);
    expect((await direct.deliver()).result).toEqual({ batchItemFailures: [] });
    // The same message again under another deduplication id, as a gateway retry after SQS's
    // 5-minute window would deliver it.
    await direct.sqs.send(
      new SendMessageCommand({
        QueueUrl: direct.queues.inbound,
        MessageBody: JSON.stringify(message),
        MessageGroupId: groupId,
        MessageDeduplicationId: `${message.id}-again`,
      }),
    );
    const again = await direct.deliver();
    expect(again.records.map((r) => r.attributes.MessageDeduplicationId)).toEqual([`${message.id}-again`]);
    expect(again.result).toEqual({ batchItemFailures: [] });
    expect(direct.published).toHaveLength(2);
    expect(direct.published[1]).toEqual(direct.published[0]);
    expect(llmCalls()).toBe(1);
    // Published with the same reply id within 5 minutes, the FIFO replies queue holds it once.
    const depth = await direct.sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: direct.queues.replies,
        AttributeNames: ['ApproximateNumberOfMessages'],
      }),
    );
    expect(depth.Attributes!.ApproximateNumberOfMessages).toBe('1');
    const { rows } = await db.admin.query(
      `SELECT count(*)::int AS n FROM conversation_messages WHERE source_message_id = $1`,
      [message.id],
    );
    expect(rows[0].n).toBe(2);
  });
});

describe('poison messages go to the DLQ with the reason, and the batch is acknowledged', () => {
  const invoke = (body: string, groupId = 'poison-group') =>
    pipeline.handler({ Records: [sqsRecord(body, { groupId })] }, lambdaContext('handleMessage', 180_000));

  it.each([
    ['not JSON', () => '{"id": "x",', /not JSON/],
    [
      'a schema violation',
      () => JSON.stringify({ ...konstructMessage('00000000-0000-4000-8000-000000000001'), channel: 'telegram' }),
      /channel/,
    ],
    [
      'a missing sender',
      () => JSON.stringify({ ...konstructMessage('00000000-0000-4000-8000-000000000001'), sender: undefined }),
      /sender/,
    ],
    ['a null tenant_id', () => JSON.stringify(konstructMessage(null)), /tenant_id is missing/],
    ['a tenant_id that is not a UUID', () => JSON.stringify(konstructMessage('acme')), /not a UUID/],
    ['a hostile tenant_id', () => JSON.stringify(konstructMessage("'; DROP TABLE tenants; --")), /not a UUID/],
    [
      'an unknown tenant',
      () => JSON.stringify(konstructMessage('00000000-0000-4000-8000-0000000000ff')),
      /unknown tenant/,
    ],
    [
      'an over-long id',
      () => JSON.stringify(konstructMessage('00000000-0000-4000-8000-000000000001', { id: 'x'.repeat(513) })),
      /id/,
    ],
    [
      'a bad timestamp',
      () => JSON.stringify(konstructMessage('00000000-0000-4000-8000-000000000001', { timestamp: 'yesterday' })),
      /timestamp/,
    ],
  ])('%s', async (_name, body, reason) => {
    const text = body();
    const result = await invoke(text);
    expect(result).toEqual({ batchItemFailures: [] });
    const [dead] = await pipeline.deadLetters(1);
    expect(dead!.attributes.error).toMatch(reason);
    expect(dead!.attributes.error!.length).toBeLessThanOrEqual(256);
    expect(typeof dead!.body === 'string' ? dead!.body : JSON.stringify(dead!.body)).toBe(
      typeof dead!.body === 'string' ? text : JSON.stringify(JSON.parse(text)),
    );
    expect(dead!.groupId).toBe('poison-group');
    expect(llmCalls()).toBe(0);
  });

  it('a tenant with no active agent', async () => {
    const { tenantId } = await createTenant(db.admin, [{ is_active: false }]);
    expect(await invoke(JSON.stringify(konstructMessage(tenantId)))).toEqual({ batchItemFailures: [] });
    const [dead] = await pipeline.deadLetters(1);
    expect(dead!.attributes.error).toMatch(/no active agent/);
    expect(llmCalls()).toBe(0);
  });
});

describe('tenant isolation (RLS)', () => {
  it("never answers tenant A's message with tenant B's agent", async () => {
    const a = await createTenant(db.admin, [{ name: 'A-agent' }]);
    const b = await createTenant(db.admin, [{ name: 'B-agent' }]);
    await direct.send(konstructMessage(a.tenantId, { context: { agent_id: b.agentIds[0] } }));
    const { records, result } = await direct.deliver();
    expect(result).toEqual({ batchItemFailures: [] });
    expect(direct.deadLettered).toEqual([
      { messageId: records[0]!.messageId, reason: `agent ${b.agentIds[0]} is not an active agent of this tenant` },
    ]);
    expect(direct.published).toEqual([]);
    expect(llmCalls()).toBe(0);
  });
});

describe('when the LLM is down', () => {
  it('replies with the exact polite fallback text, marked fallback, and keeps it out of history', async () => {
    fakes.anthropic.always({ status: 500 });
    fakes.openai.always({ status: 500 });
    fakes.ollama.always({ status: 500 });
    const { tenantId } = await createTenant(db.admin);
    const first = konstructMessage(tenantId, { thread_id: 'down', content: { text: 'first question' } });
    await pipeline.send(first);
    const [reply] = await pipeline.replies(1);
    expect(reply!.body).toMatchObject({ content: { text: FALLBACK_TEXT }, fallback: true, model: null, usage: null });
    expect(FALLBACK_TEXT).toBe("I'm having trouble processing your request right now. Please try again in a moment.");
    const { rows } = await db.admin.query(
      `SELECT fallback, model, prompt_tokens, completion_tokens FROM conversation_messages WHERE id = $1`,
      [reply!.body.id],
    );
    expect(rows[0]).toEqual({ fallback: true, model: null, prompt_tokens: null, completion_tokens: null });

    fakes.anthropic.reset();
    fakes.openai.reset();
    fakes.ollama.reset();
    await pipeline.send(konstructMessage(tenantId, { thread_id: 'down', content: { text: 'second question' } }));
    await pipeline.replies(1);
    const sent = fakes.anthropic.requests[0]!.body.messages as { role: string; content: string }[];
    expect(sent.map((m) => m.content).join('\n')).not.toContain(FALLBACK_TEXT);
    expect(sent.at(-1)!.content).toContain('second question');
  });
});

describe('history', () => {
  it('gives the second message of a thread the first exchange', async () => {
    const { tenantId } = await createTenant(db.admin);
    fakes.anthropic.next({ content: 'Nice to meet you, Dana.' });
    await pipeline.send(konstructMessage(tenantId, { thread_id: 'th-1', content: { text: 'I am Dana.' } }));
    await pipeline.replies(1);
    await pipeline.send(konstructMessage(tenantId, { thread_id: 'th-1', content: { text: 'What is my name?' } }));
    await pipeline.replies(1);
    expect(fakes.anthropic.requests[1]!.body.messages).toEqual([
      { role: 'user', content: 'I am Dana.' },
      { role: 'assistant', content: 'Nice to meet you, Dana.' },
      { role: 'user', content: 'What is my name?' },
    ]);
  });

  it('keeps conversations apart: another sender without a thread starts fresh', async () => {
    const { tenantId } = await createTenant(db.admin);
    await pipeline.send(konstructMessage(tenantId, { sender: { user_id: 'U-A' }, content: { text: 'from A' } }));
    await pipeline.replies(1);
    await pipeline.send(konstructMessage(tenantId, { sender: { user_id: 'U-B' }, content: { text: 'from B' } }));
    await pipeline.replies(1);
    expect(fakes.anthropic.requests[1]!.body.messages).toEqual([{ role: 'user', content: 'from B' }]);
  });
});

describe('messages that get no reply', () => {
  it.each([
    ['a bot', { sender: { user_id: 'B1', is_bot: true } }],
    ['an empty text', { content: { text: '   \n ' } }],
  ])('acknowledges %s with no LLM call and no reply', async (_name, patch) => {
    const { tenantId } = await createTenant(db.admin);
    await direct.send(konstructMessage(tenantId, patch));
    const { records, result } = await direct.deliver();
    expect(records).toHaveLength(1);
    expect(result).toEqual({ batchItemFailures: [] });
    expect(direct.published).toEqual([]);
    expect(direct.deadLettered).toEqual([]);
    expect(llmCalls()).toBe(0);
    expect((await direct.deliver()).records).toEqual([]);
  });
});

describe('SQS ids', () => {
  it('publishes long thread ids and message ids through their SHA-256', async () => {
    const { tenantId } = await createTenant(db.admin);
    const thread = `thread-${'é'.repeat(200)}`;
    const message = konstructMessage(tenantId, { id: `id-${'x'.repeat(400)}`, thread_id: thread });
    const sent = await pipeline.send(message);
    expect(sent.groupId).toBe(messageGroupId(tenantId, thread));
    expect(sent.groupId).toMatch(new RegExp(`^${tenantId}:[0-9a-f]{64}$`));
    const [reply] = await pipeline.replies(1);
    expect(reply!.body.in_reply_to).toBe(message.id);
    expect(reply!.groupId).toBe(sent.groupId);
  });
});

describe('order within a conversation', () => {
  it('answers five messages published at once in order, each seeing the previous exchanges', async () => {
    const { tenantId } = await createTenant(db.admin);
    fakes.anthropic.always({ delayMs: 20 });
    for (let i = 1; i <= 5; i++)
      await pipeline.send(konstructMessage(tenantId, { thread_id: 'ordered', content: { text: `message ${i}` } }));
    const replies = await pipeline.replies(5, 20_000);
    expect(replies).toHaveLength(5);
    const requests = fakes.anthropic.requests.map((r) => r.body.messages as { role: string; content: string }[]);
    expect(requests.map((m) => m.at(-1)!.content)).toEqual([
      'message 1',
      'message 2',
      'message 3',
      'message 4',
      'message 5',
    ]);
    requests.forEach((messages, i) => expect(messages).toHaveLength(2 * i + 1));
  });
});
