// Failure classes: poison found before any database or LLM call, transient failures dead-lettered with their
// class on the last receive, and a provider's impossible usage stored as unknown.
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import type { SQSRecord } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { withTenant } from '../../functions/common/db.ts';
import { messageGroupId, type KonstructMessageInput } from '../../functions/common/message.ts';
import { createSqsClient, publishReply } from '../../functions/common/queue.ts';
import { createHandler, type HandlerDeps } from '../../functions/handle-message/app.ts';
import { lambdaContext } from '../../local/lambda-context.ts';
import { createTenant, unreachableDatabase } from '../helpers/database.ts';
import { konstructMessage, sqsRecord, usePipeline, type Pipeline } from '../helpers/pipeline.ts';

/** Transactions the handler opened: poison must be found before the first. */
let databaseCalls = 0;
const { fakes, db, pipeline } = usePipeline({
  eventSource: false,
  wrap: (deps) => ({
    ...deps,
    message: {
      ...deps.message,
      withTenant: (tenantId, fn) => {
        databaseCalls++;
        return deps.message.withTenant(tenantId, fn);
      },
    },
  }),
});
afterEach(() => {
  databaseCalls = 0;
});

const llmCalls = () => fakes.anthropic.count + fakes.openai.count + fakes.ollama.count;

const invoke = (handler: Pipeline['handler'], ...records: SQSRecord[]) =>
  handler({ Records: records }, lambdaContext('handleMessage', 180_000));

/** Messages in the DLQ now: the handler's send is awaited within the invocation, so no waiting is needed. */
async function deadLetterCount(): Promise<number> {
  const { Attributes } = await pipeline.sqs.send(
    new GetQueueAttributesCommand({ QueueUrl: pipeline.queues.dlq, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  return Number(Attributes!.ApproximateNumberOfMessages);
}

/** `levels` nested objects: 1 is `{}`, 2 is `{ a: {} }`. */
function nested(levels: number): Record<string, unknown> {
  let value: Record<string, unknown> = {};
  for (let i = 1; i < levels; i++) value = { a: value };
  return value;
}

const TENANT = '00000000-0000-4000-8000-000000000001';
const SECRET = 'PRIVATE-MESSAGE-TEXT';

describe('U+0000 and deep nesting are permanent failures, found before any database or LLM call', () => {
  /** The body as the queue would carry it; the 5 000-level one is spliced in as text (serialising it would overflow the stack). */
  const withDeepField = () =>
    JSON.stringify(konstructMessage(TENANT)).replace(/\}$/, `,"deep":${'['.repeat(5_000)}${']'.repeat(5_000)}}`);
  const json = (message: KonstructMessageInput & Record<string, unknown>) => () => JSON.stringify(message);

  it.each<[string, () => string, string]>([
    [
      'a NUL in content.text',
      json(konstructMessage(TENANT, { content: { text: `${SECRET}\u0000` } })),
      'content.text: contains U+0000, which cannot be stored',
    ],
    [
      'a NUL in a field the schema ignores',
      json({ ...konstructMessage(TENANT), gateway: { notes: ['fine', `${SECRET}\u0000`] } }),
      'gateway.notes[1]: contains U+0000, which cannot be stored',
    ],
    [
      'a NUL in a key',
      json(konstructMessage(TENANT, { channel_metadata: { team: 'T1', [`${SECRET}\u0000`]: true } })),
      'channel_metadata[key 1]: a key contains U+0000, which cannot be stored',
    ],
    [
      '33 levels of nesting',
      json(konstructMessage(TENANT, { channel_metadata: nested(32) })),
      `channel_metadata${'.a'.repeat(31)}: nested deeper than 32 levels`,
    ],
    [
      '5 000 levels of arrays in an ignored field',
      withDeepField,
      `deep${'[0]'.repeat(31)}: nested deeper than 32 levels`,
    ],
  ])('%s', async (_name, makeBody, reason) => {
    const body = makeBody();
    const groupId = 'failures-group';
    expect(await invoke(pipeline.handler, sqsRecord(body, { groupId }))).toEqual({ batchItemFailures: [] });
    const [dead] = await pipeline.deadLetters(1);
    expect(dead!.attributes.error).toBe(`not a KonstructMessage: ${reason}`);
    expect(dead!.attributes.error).not.toContain(SECRET);
    expect((dead!.body as { id: string }).id).toBe((JSON.parse(body) as { id: string }).id); // the original body
    expect(dead!.groupId).toBe(groupId);
    expect(llmCalls()).toBe(0);
    expect(databaseCalls).toBe(0);
  });

  it('answers 32 levels of nesting, and the six characters \\u0000 typed as text, which are not a NUL', async () => {
    const { tenantId } = await createTenant(db.admin);
    const typed = 'type \\u0000 to see a NUL';
    const message = konstructMessage(tenantId, { channel_metadata: nested(31), content: { text: typed } });
    expect(await invoke(pipeline.handler, sqsRecord(JSON.stringify(message)))).toEqual({ batchItemFailures: [] });
    const [reply] = await pipeline.replies(1);
    expect(reply!.body.channel_metadata).toEqual(nested(31));
    const { rows } = await db.admin.query(
      `SELECT content FROM conversation_messages WHERE source_message_id = $1 AND role = 'user'`,
      [message.id],
    );
    expect(rows[0].content).toBe(typed);
    expect(llmCalls()).toBe(1);
  });

  it('enqueueMessage refuses them too, naming the path', async () => {
    const send = pipeline.send(konstructMessage(TENANT, { content: { text: `${SECRET}\u0000` } }));
    await expect(send).rejects.toThrow('content.text: contains U+0000');
    await expect(pipeline.send(konstructMessage(TENANT, { channel_metadata: nested(32) }))).rejects.toThrow(
      /nested deeper than 32 levels/,
    );
  });
});

describe('one KonstructMessage parser: enqueueMessage and the handler refuse the same input with the same reason', () => {
  it.each<[string, KonstructMessageInput & Record<string, unknown>, string]>([
    [
      'a null tenant_id',
      konstructMessage(null),
      'tenant_id is missing: a message without a tenant UUID cannot be served',
    ],
    [
      'a tenant_id that is not a UUID',
      konstructMessage(`acme-${SECRET}`),
      'tenant_id is not a UUID: a message without a tenant UUID cannot be served',
    ],
    [
      'an unknown channel and a missing sender',
      { ...konstructMessage(TENANT), channel: 'telegram' as 'slack', sender: undefined as never },
      'not a KonstructMessage: channel: Invalid option: expected one of "slack"|"whatsapp"|"mattermost"; sender: Invalid input: expected object, received undefined',
    ],
    [
      'attachments that are not an array',
      konstructMessage(TENANT, { content: { text: SECRET, attachments: SECRET as never } }),
      'not a KonstructMessage: content.attachments: Invalid input: expected array, received string',
    ],
    [
      'a NUL in a key',
      konstructMessage(TENANT, { channel_metadata: { [`${SECRET}\u0000`]: true } }),
      'not a KonstructMessage: channel_metadata[key 0]: a key contains U+0000, which cannot be stored',
    ],
  ])('%s', async (_name, message, reason) => {
    const refused = await pipeline.send(message).then(
      () => 'sent',
      (err: Error) => err.message,
    );
    expect(refused).toBe(reason);
    expect(await invoke(pipeline.handler, sqsRecord(JSON.stringify(message)))).toEqual({ batchItemFailures: [] });
    const [dead] = await pipeline.deadLetters(1);
    expect(dead!.attributes.error).toBe(reason);
    expect(reason).not.toContain(SECRET);
    expect(llmCalls()).toBe(0);
    expect(databaseCalls).toBe(0);
  });
});

describe('a record failing transiently on every receive is dead-lettered by the handler on its last, with its class', () => {
  /** The handler's dependencies with one of them replaced, as the Lambda would build them. */
  const handlerWith = (
    patch: (deps: HandlerDeps) => Partial<HandlerDeps['message']>,
    extra: Partial<HandlerDeps> = {},
  ) => createHandler({ ...pipeline.deps, ...extra, message: { ...pipeline.deps.message, ...patch(pipeline.deps) } });

  it('database unreachable: retried on receives 1 and 2, dead-lettered with "transient: database unavailable" on 3', async () => {
    const { tenantId } = await createTenant(db.admin);
    const deadPool = await unreachableDatabase();
    try {
      const handler = handlerWith(() => ({ withTenant: (tenant, fn) => withTenant(deadPool, tenant, fn) }));
      const body = JSON.stringify(konstructMessage(tenantId));
      for (const receiveCount of [1, 2]) {
        expect(await invoke(handler, sqsRecord(body, { messageId: 'db-down', receiveCount }))).toEqual({
          batchItemFailures: [{ itemIdentifier: 'db-down' }],
        });
        expect(await deadLetterCount()).toBe(0);
      }
      expect(await invoke(handler, sqsRecord(body, { messageId: 'db-down', receiveCount: 3 }))).toEqual({
        batchItemFailures: [],
      });
      const [dead] = await pipeline.deadLetters(1);
      expect(dead!.attributes.error).toBe('transient: database unavailable');
      expect(JSON.stringify(dead!.body)).toBe(body);
      expect(dead!.deduplicationId).toBe('db-down');
      expect(llmCalls()).toBe(0);
    } finally {
      await deadPool.end();
    }
  });

  it('replies queue unreachable: one LLM call, the stored reply retried, dead-lettered with "transient: SQS send failed" on receive 3', async () => {
    const { tenantId } = await createTenant(db.admin);
    const sqs = createSqsClient();
    try {
      const missing = `${pipeline.queues.replies.replace(/[^/]+$/, '')}no-such-queue.fifo`;
      const handler = handlerWith(() => ({
        publishReply: (reply, groupId) => publishReply(sqs, missing, reply, groupId),
      }));
      const message = konstructMessage(tenantId);
      const body = JSON.stringify(message);
      for (const receiveCount of [1, 2]) {
        expect(await invoke(handler, sqsRecord(body, { messageId: 'sqs-down', receiveCount }))).toEqual({
          batchItemFailures: [{ itemIdentifier: 'sqs-down' }],
        });
      }
      expect(await invoke(handler, sqsRecord(body, { messageId: 'sqs-down', receiveCount: 3 }))).toEqual({
        batchItemFailures: [],
      });
      const [dead] = await pipeline.deadLetters(1);
      expect(dead!.attributes.error).toBe('transient: SQS send failed');
      expect(llmCalls()).toBe(1);
      const { rows } = await db.admin.query(
        `SELECT count(*)::int AS n FROM conversation_messages WHERE source_message_id = $1`,
        [message.id],
      );
      expect(rows[0].n).toBe(2);
    } finally {
      sqs.destroy();
    }
  });

  it('counts receives against the configured maxReceiveCount', async () => {
    const { tenantId } = await createTenant(db.admin);
    const deadPool = await unreachableDatabase();
    try {
      const handler = handlerWith(() => ({ withTenant: (tenant, fn) => withTenant(deadPool, tenant, fn) }), {
        maxReceiveCount: 5,
      });
      const body = JSON.stringify(konstructMessage(tenantId));
      expect(await invoke(handler, sqsRecord(body, { messageId: 'five', receiveCount: 3 }))).toEqual({
        batchItemFailures: [{ itemIdentifier: 'five' }],
      });
      expect(await deadLetterCount()).toBe(0);
      expect(await invoke(handler, sqsRecord(body, { messageId: 'five', receiveCount: 5 }))).toEqual({
        batchItemFailures: [],
      });
      expect((await pipeline.deadLetters(1))[0]!.attributes.error).toBe('transient: database unavailable');
    } finally {
      await deadPool.end();
    }
  });
});

describe('provider usage that no int column can hold is unknown, not a failure', () => {
  it('answers a usage of 3 000 000 000 tokens with usage null, stored as NULL', async () => {
    const { tenantId } = await createTenant(db.admin);
    fakes.anthropic.next({ usage: { input: 3_000_000_000, output: 7 } });
    const message = konstructMessage(tenantId);
    const result = await invoke(
      pipeline.handler,
      sqsRecord(JSON.stringify(message), { groupId: messageGroupId(tenantId, 'slack:U123') }),
    );
    expect(result).toEqual({ batchItemFailures: [] });
    const [reply] = await pipeline.replies(1);
    expect(reply!.body).toMatchObject({
      in_reply_to: message.id,
      content: { text: 'answer from anthropic' },
      usage: null,
      fallback: false,
    });
    const { rows } = await db.admin.query(
      `SELECT prompt_tokens, completion_tokens FROM conversation_messages WHERE id = $1`,
      [reply!.body.id],
    );
    expect(rows[0]).toEqual({ prompt_tokens: null, completion_tokens: 7 });
  });
});

describe('a provider answer Postgres could not store', () => {
  it('is stored and published with U+FFFD in place of each U+0000, not retried as a database failure', async () => {
    const { tenantId } = await createTenant(db.admin);
    fakes.anthropic.next({ content: 'before\u0000after' });
    const message = konstructMessage(tenantId);
    expect(await invoke(pipeline.handler, sqsRecord(JSON.stringify(message)))).toEqual({ batchItemFailures: [] });
    const [reply] = await pipeline.replies(1);
    expect(reply!.body.content.text).toBe('before\ufffdafter');
    const { rows } = await db.admin.query(`SELECT content FROM conversation_messages WHERE id = $1`, [reply!.body.id]);
    expect(rows[0].content).toBe('before\ufffdafter');
    expect(llmCalls()).toBe(1);
  });
});
