// Size limits: the history is trimmed to fit the `complete` body, and a reply's text is cut to fit one SQS message.
import { DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_SQS_MESSAGE_BYTES, type Reply } from '../../functions/common/message.ts';
import { MAX_BODY_BYTES } from '../../functions/common/complete-contract.ts';
import { completeRequestBody, FALLBACK_TEXT, type RunAgentInput } from '../../functions/handle-message/run-agent.ts';
import { lambdaContext } from '../../local/lambda-context.ts';
import { createTenant } from '../helpers/database.ts';
import { konstructMessage, sqsRecord, usePipeline } from '../helpers/pipeline.ts';

/** What handleMessage asked `complete` for, call by call. */
const asked: RunAgentInput[] = [];
const { fakes, db, pipeline } = usePipeline({
  eventSource: false,
  wrap: (deps) => ({
    ...deps,
    message: {
      ...deps.message,
      runAgent: (input) => {
        asked.push(input);
        return deps.message.runAgent(input);
      },
    },
  }),
});
afterEach(() => {
  asked.length = 0;
});

async function answer(message: ReturnType<typeof konstructMessage>) {
  expect(
    await pipeline.handler({ Records: [sqsRecord(JSON.stringify(message))] }, lambdaContext('handleMessage', 180_000)),
  ).toEqual({ batchItemFailures: [] });
  return (await pipeline.replies(1))[0]!.body;
}

const bytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value));

describe('history is trimmed by whole exchanges, oldest first, to fit the complete body', () => {
  it('answers every message of a conversation of 250 KB messages, keeping as many recent exchanges as fit 1 MiB', async () => {
    const { tenantId } = await createTenant(db.admin);
    const texts = Array.from({ length: 6 }, (_, i) => `message ${i}: ${'x'.repeat(250_000)}`);
    for (const text of texts) {
      const reply = await answer(konstructMessage(tenantId, { thread_id: 'long', content: { text } }));
      expect(reply.fallback).toBe(false); // complete accepted the body: no 413
    }
    for (const input of asked)
      expect(Buffer.byteLength(completeRequestBody(input))).toBeLessThanOrEqual(MAX_BODY_BYTES);

    // The sixth request: its history is the most recent exchanges, whole, and one more would not have fit.
    const last = asked.at(-1)!;
    const history = last.messages.slice(1, -1);
    const exchanges = history.length / 2;
    expect(exchanges).toBeGreaterThan(0);
    expect(exchanges).toBeLessThan(5);
    expect(history.map((m) => m.content)).toEqual(
      texts.slice(5 - exchanges, 5).flatMap((text) => [text, 'answer from anthropic']),
    );
    const dropped = [
      { role: 'user', content: texts[4 - exchanges] },
      { role: 'assistant', content: 'answer from anthropic' },
    ];
    expect(
      Buffer.byteLength(completeRequestBody(last)) + bytes(dropped[0]) + 1 + bytes(dropped[1]) + 1,
    ).toBeGreaterThan(MAX_BODY_BYTES);
    expect(fakes.anthropic.requests.at(-1)!.body.messages).toEqual(last.messages.slice(1));
  }, 60_000);

  it('sends the system prompt and the message alone when they exceed the limit: complete answers 413, the user gets the polite fallback', async () => {
    const { tenantId } = await createTenant(db.admin, [{ system_prompt: `Rules: ${'r'.repeat(600_000)}` }]);
    await answer(konstructMessage(tenantId, { thread_id: 'huge', content: { text: 'short question' } }));
    const reply = await answer(
      konstructMessage(tenantId, { thread_id: 'huge', content: { text: 'q'.repeat(500_000) } }),
    );
    expect(reply).toMatchObject({ content: { text: FALLBACK_TEXT }, fallback: true });
    expect(asked.at(-1)!.messages.map((m) => m.role)).toEqual(['system', 'user']); // the earlier exchange was dropped
    expect(fakes.anthropic.count).toBe(1); // only the first message reached the provider
  });
});

describe("a reply's text is cut to fit one SQS message", () => {
  it('publishes a reply whose record fits 1 MiB, cut on a code-point boundary, and stores the same text', async () => {
    const { tenantId } = await createTenant(db.admin);
    // Characters of every width once escaped: ASCII, an escaped quote, 2- and 3-byte UTF-8, a newline, a control character, U+FFFF.
    const unit = 'x"é€\n\u0001\uffff';
    const long = unit.repeat(60_000);
    fakes.anthropic.next({ content: long });
    const message = konstructMessage(tenantId);
    expect(
      await pipeline.handler(
        { Records: [sqsRecord(JSON.stringify(message))] },
        lambdaContext('handleMessage', 180_000),
      ),
    ).toEqual({ batchItemFailures: [] });

    const { Messages = [] } = await pipeline.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: pipeline.queues.replies, WaitTimeSeconds: 5 }),
    );
    expect(Messages).toHaveLength(1);
    await pipeline.sqs.send(
      new DeleteMessageCommand({ QueueUrl: pipeline.queues.replies, ReceiptHandle: Messages[0]!.ReceiptHandle! }),
    );
    const raw = Messages[0]!.Body!;
    expect(Buffer.byteLength(raw)).toBeLessThanOrEqual(MAX_SQS_MESSAGE_BYTES);
    expect(Buffer.byteLength(raw)).toBeGreaterThan(MAX_SQS_MESSAGE_BYTES - 6); // as much as fits: no character costs more than 6 bytes
    const reply = JSON.parse(raw) as Reply;
    expect(reply.fallback).toBe(false);
    expect(reply.content.text.length).toBeGreaterThan(0);
    expect(reply.content.text.length).toBeLessThan(long.length);
    expect(long.startsWith(reply.content.text)).toBe(true);
    const { rows } = await db.admin.query(`SELECT content FROM conversation_messages WHERE id = $1`, [reply.id]);
    expect(rows[0].content).toBe(reply.content.text);
  });
});
