// The message pipeline as the local runtime wires it: queues in the SQS emulator, `complete` served as a
// Function URL over fake providers, and the real `handleMessage` handler fed by the SQS event source (or by the test).
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll } from 'vitest';
import { buildConfig, type ConfigFile } from '../../functions/complete/config.ts';
import {
  createDepsFromEnvironment as completeDeps,
  createHandler as completeHandler,
  streamingEntry,
} from '../../functions/complete/app.ts';
import {
  createDepsFromEnvironment as messageDeps,
  createHandler as messageHandler,
  type HandlerDeps,
} from '../../functions/handle-message/app.ts';
import type { KonstructMessageInput, Reply } from '../../functions/common/message.ts';
import { createSqsClient, enqueueMessage } from '../../functions/common/queue.ts';
import { installAwsLambdaGlobal } from '../../local/awslambda-global.ts';
import { serveFunctionUrl } from '../../local/function-url.ts';
import { lambdaContext } from '../../local/lambda-context.ts';
import { startEventSource, toSqsRecord, type EventSource } from '../../local/sqs-event-source.ts';
import { ensureQueues, type Queues } from '../../local/sqs.ts';
import { useFakeProviders } from '../fakes/provider-server.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { ANTHROPIC_KEY, OPENAI_KEY, type Fakes } from './function-url.ts';

/** `quality` is Anthropic alone (so tests know which fake answers), falling back to `fast` (Ollama). */
export const PIPELINE_ROUTER_CONFIG: ConfigFile = {
  model_list: [
    { model_name: 'quality', litellm_params: { model: 'anthropic/claude-sonnet-4-20250514' } },
    { model_name: 'fast', litellm_params: { model: 'ollama/qwen3:8b' } },
  ],
  router_settings: { fallbacks: [{ quality: ['fast'] }], num_retries: 1 },
};

export interface PipelineOptions {
  fakes: Fakes;
  databaseUrl: string;
  env?: Record<string, string>;
  visibilityTimeoutS?: number;
  /** Start the SQS event source (else drive the handler with `deliver()`, or call `handler` with events). @default true */
  eventSource?: boolean;
  batchSize?: number;
  concurrency?: number;
  /** Changes the handler's dependencies (e.g. a database that fails for one record). */
  wrap?: (deps: HandlerDeps) => HandlerDeps;
}

/** What the handler handed to SQS and SQS accepted, in order. */
export interface Observed {
  published: { reply: Reply; groupId: string }[];
  deadLettered: { messageId: string; reason: string }[];
}

export interface Received<T> {
  body: T;
  groupId: string | undefined;
  deduplicationId: string | undefined;
  attributes: Record<string, string | undefined>;
}

export async function startPipeline(options: PipelineOptions) {
  const sqs: SQSClient = createSqsClient();
  const queues: Queues = await ensureQueues(sqs, {
    prefix: `t${randomBytes(4).toString('hex')}-`,
    visibilityTimeoutS: options.visibilityTimeoutS ?? 30,
  });
  const { fakes } = options;
  const providerEnv = {
    ANTHROPIC_API_KEY: ANTHROPIC_KEY,
    OPENAI_API_KEY: OPENAI_KEY,
    ANTHROPIC_BASE_URL: fakes.anthropic.url,
    OPENAI_BASE_URL: fakes.openai.url,
    OLLAMA_BASE_URL: fakes.ollama.url,
  };
  const complete = completeDeps(providerEnv, buildConfig(PIPELINE_ROUTER_CONFIG, providerEnv));
  installAwsLambdaGlobal();
  // The Lambda entry itself (streaming mode), so handleMessage is tested against `complete` as deployed.
  const server = serveFunctionUrl(streamingEntry(completeHandler(complete)), {
    functionName: 'complete',
    timeoutMs: 120_000,
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const completeUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const base = messageDeps({
    ...process.env,
    DATABASE_URL: options.databaseUrl,
    INBOUND_QUEUE_URL: queues.inbound,
    REPLIES_QUEUE_URL: queues.replies,
    DLQ_URL: queues.dlq,
    COMPLETE_URL: completeUrl,
    COMPLETE_AUTH: 'none',
    ...options.env,
  });
  // Recorded beneath `wrap`, so a send that a test makes fail is not recorded as made.
  const observed: Observed = { published: [], deadLettered: [] };
  const recording: HandlerDeps = {
    ...base,
    message: {
      ...base.message,
      async publishReply(reply, groupId) {
        await base.message.publishReply(reply, groupId);
        observed.published.push({ reply, groupId });
      },
    },
    async deadLetter(record, reason) {
      await base.deadLetter(record, reason);
      observed.deadLettered.push({ messageId: record.messageId, reason });
    },
  };
  const deps = options.wrap ? options.wrap(recording) : recording;
  const handler = messageHandler(deps);
  const inboundArn = `arn:aws:sqs:us-east-1:000000000000:${queues.inbound.split('/').pop()}`;
  let source: EventSource | undefined;
  if (options.eventSource ?? true) {
    source = startEventSource({
      sqs,
      queueUrl: queues.inbound,
      queueArn: inboundArn,
      region: 'us-east-1',
      handler,
      functionName: 'handleMessage',
      timeoutMs: 180_000,
      batchSize: options.batchSize ?? 10,
      concurrency: options.concurrency ?? 4,
      waitTimeSeconds: 1,
    });
  }

  async function receive<T>(queueUrl: string, count: number, timeoutMs: number): Promise<Received<T>[]> {
    const out: Received<T>[] = [];
    const deadline = Date.now() + timeoutMs;
    while (out.length < count && Date.now() < deadline) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 1,
          MessageSystemAttributeNames: ['All'],
          MessageAttributeNames: ['All'],
        }),
      );
      for (const m of Messages) {
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
        const attributes: Record<string, string | undefined> = {};
        for (const [k, v] of Object.entries(m.MessageAttributes ?? {})) attributes[k] = v.StringValue;
        out.push({
          body: (() => {
            try {
              return JSON.parse(m.Body ?? '');
            } catch {
              return m.Body;
            }
          })() as T,
          groupId: m.Attributes?.MessageGroupId,
          deduplicationId: m.Attributes?.MessageDeduplicationId,
          attributes,
        });
      }
    }
    return out;
  }

  /**
   * One invocation as Lambda's event source makes it, driven by the test (with `eventSource: false`): the
   * records the inbound queue holds now, with the attributes SQS sets (ApproximateReceiveCount included),
   * go to the handler; what it acknowledged is deleted and what it failed becomes visible again at once,
   * as if its visibility timeout had passed, so the next `deliver()` receives it again without waiting —
   * unless `release` is false: then failures keep the visibility the handler left them.
   */
  async function deliver({ release = true } = {}): Promise<{
    records: SQSRecord[];
    result: SQSBatchResponse | undefined;
  }> {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queues.inbound,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const records = Messages.map((m) => toSqsRecord(m, inboundArn, 'us-east-1'));
    if (records.length === 0) return { records, result: undefined };
    const result = await handler({ Records: records }, lambdaContext('handleMessage', 180_000));
    const failed = new Set(result.batchItemFailures.map((f) => f.itemIdentifier));
    for (const r of records) {
      if (!failed.has(r.messageId))
        await sqs.send(new DeleteMessageCommand({ QueueUrl: queues.inbound, ReceiptHandle: r.receiptHandle }));
    }
    // Last first: the emulator puts each released message back at the head of its group.
    for (const r of release ? records.filter((r) => failed.has(r.messageId)).reverse() : []) {
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queues.inbound,
          ReceiptHandle: r.receiptHandle,
          VisibilityTimeout: 0,
        }),
      );
    }
    return { records, result };
  }

  return {
    sqs,
    queues,
    deps,
    handler,
    completeUrl,
    ...observed,
    deliver,
    send: (message: KonstructMessageInput) => enqueueMessage(message, { sqs, queueUrl: queues.inbound }),
    /** Waits for `count` replies (and deletes them); returns what arrived by `timeoutMs`. */
    replies: (count: number, timeoutMs = 15_000) => receive<Reply>(queues.replies, count, timeoutMs),
    deadLetters: (count: number, timeoutMs = 15_000) => receive<unknown>(queues.dlq, count, timeoutMs),
    async stop() {
      await source?.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await base.close();
    },
  };
}

export type Pipeline = Awaited<ReturnType<typeof startPipeline>>;

export interface PipelineTestbed {
  fakes: Fakes;
  db: TestDatabase;
  /** Starts a pipeline over the file's fakes and database (unless `options` say otherwise), stopped after all tests. */
  start(options?: Partial<PipelineOptions>): Promise<Pipeline>;
}

/**
 * Fake providers (reset after each test) and a database of its own for a test file. `fakes` and `db` are
 * filled in by `beforeAll`, so use them inside tests and hooks only.
 */
export function usePipelineTestbed(): PipelineTestbed {
  const fakes = useFakeProviders();
  const db = {} as TestDatabase;
  const started: Pipeline[] = [];
  beforeAll(async () => {
    Object.assign(db, await createTestDatabase());
  });
  // Registered after the fakes' hooks, so it runs before they stop: pipelines first, then their database.
  afterAll(async () => {
    for (const pipeline of started.splice(0).reverse()) await pipeline.stop();
    await db.drop?.();
  });
  return {
    fakes,
    db,
    async start(options = {}) {
      const pipeline = await startPipeline({ fakes, databaseUrl: db.url, ...options });
      started.push(pipeline);
      return pipeline;
    },
  };
}

/** The testbed and one pipeline, started with `options` before the file's tests (and filled in like `fakes`). */
export function usePipeline(options: Partial<PipelineOptions> = {}): PipelineTestbed & { pipeline: Pipeline } {
  const testbed = usePipelineTestbed();
  const pipeline = {} as Pipeline;
  beforeAll(async () => {
    Object.assign(pipeline, await testbed.start(options));
  });
  return { ...testbed, pipeline };
}

export interface SqsRecordOptions {
  /** @default a new id */
  messageId?: string;
  /** ApproximateReceiveCount: which receive of the message this is. @default 1 */
  receiveCount?: number;
  /** @default 'test-group' */
  groupId?: string;
}

/** A record from an inbound FIFO queue as Lambda's event source hands it over, for tests that call the handler. */
export function sqsRecord(body: string, options: SqsRecordOptions = {}): SQSRecord {
  const messageId = options.messageId ?? `m-${randomUUID()}`;
  const message = {
    MessageId: messageId,
    ReceiptHandle: `rh-${messageId}`,
    Body: body,
    Attributes: {
      ApproximateReceiveCount: String(options.receiveCount ?? 1),
      MessageGroupId: options.groupId ?? 'test-group',
      MessageDeduplicationId: messageId,
    },
  };
  return toSqsRecord(message, 'arn:aws:sqs:us-east-1:000000000000:inbound.fifo', 'us-east-1');
}

/** A valid KonstructMessage for `tenantId`, with `overrides` on top. */
export function konstructMessage(
  tenantId: string | null,
  overrides: Partial<KonstructMessageInput> = {},
): KonstructMessageInput {
  return {
    id: `slack-C123-${randomUUID()}`,
    tenant_id: tenantId,
    channel: 'slack',
    channel_metadata: { channel_id: 'C123' },
    sender: { user_id: 'U123', display_name: 'Dana', email: null, is_bot: false },
    content: { text: 'Hi!', html: null, attachments: [], mentions: [] },
    timestamp: '2026-11-24T06:00:00Z',
    thread_id: null,
    reply_to: null,
    context: {},
    ...overrides,
  };
}
