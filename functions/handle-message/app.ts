// The `handleMessage` SQS shell: a FIFO batch in, one `processMessage` per record, partial batch failures out.
// `handler.ts` is the Lambda entry that builds it once per cold start.
import { randomUUID } from 'node:crypto';
import middy from '@middy/core';
import { SqsFifoPartialProcessorAsync, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createPool, databaseConfig, isTransientDatabaseError, withTenant, type Pool } from '../common/db.ts';
import {
  changeVisibility,
  createSqsClient,
  MAX_RECEIVE_COUNT,
  publishReply,
  queueUrlFromArn,
  sendToDeadLetter,
  VisibilityChangeError,
} from '../common/queue.ts';
import { secretsManagerReader } from '../common/secrets.ts';
import { createLogger } from '../common/telemetry.ts';
import { PermanentFailure, processMessage, ReplyPublishError, type MessageDeps } from './process-record.ts';
import { CompleteCallAbandoned, completeFetch, runAgent } from './run-agent.ts';

export interface HandlerDeps {
  message: MessageDeps;
  deadLetter(record: SQSRecord, reason: string): Promise<void>;
  logger: Logger;
  /** The inbound queue's redrive `maxReceiveCount`: on that receive a transient failure is dead-lettered here, with its reason. @default 3 */
  maxReceiveCount?: number;
  /** Makes failed records of a batch visible again after their `seconds`, instead of the queue's visibility timeout. */
  retryAfter(entries: readonly { record: SQSRecord; seconds: number }[]): Promise<void>;
  /** A transient failure comes back after this many seconds × its receive count. @default 30 */
  retryBackoffSeconds?: number;
}

/** Seconds per receive before a transiently failed record is delivered again. */
export const RETRY_BACKOFF_S = 30;

/** The class of a transient failure, as a DLQ reason names it: short, never the error's own text. */
function transientFailureClass(err: unknown): string {
  if (err instanceof ReplyPublishError) return 'SQS send failed';
  if (isTransientDatabaseError(err)) return 'database unavailable';
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return 'database error';
  return 'unexpected error';
}

export function createHandler(deps: HandlerDeps) {
  const { logger } = deps;
  const maxReceiveCount = deps.maxReceiveCount ?? MAX_RECEIVE_COUNT;
  const backoffS = deps.retryBackoffSeconds ?? RETRY_BACKOFF_S;

  /** `backoff` collects, per failed record's messageId, when it should come back. */
  async function handleRecord(record: SQSRecord, context: Context, backoff: Map<string, number>): Promise<void> {
    const receiveCount = Number(record.attributes.ApproximateReceiveCount);
    const ids = { sqs_message_id: record.messageId, receive_count: receiveCount };
    try {
      const outcome = await processMessage(
        record.body,
        deps.message,
        context.getRemainingTimeInMillis(),
        record.messageId,
      );
      if (outcome.kind === 'ignored') logger.info(`message acknowledged without a reply: ${outcome.reason}`, ids);
      else
        logger.info(`reply ${outcome.kind}`, {
          ...ids,
          reply_id: outcome.reply.id,
          tenant_id: outcome.reply.tenant_id,
          fallback: outcome.reply.fallback,
        });
    } catch (err) {
      if (err instanceof CompleteCallAbandoned) {
        logger.warn('message abandoned at shutdown while waiting on complete; SQS will deliver it again', ids);
        throw err;
      }
      if (err instanceof PermanentFailure) {
        await deps.deadLetter(record, err.message); // if this throws, the record is retried like any transient failure
        logger.warn('message sent to the DLQ', { ...ids, reason: err.message });
        return;
      }
      const failure = transientFailureClass(err);
      const e = err as NodeJS.ErrnoException;
      const cause = e?.cause as NodeJS.ErrnoException | undefined;
      if (receiveCount >= maxReceiveCount) {
        // SQS's own redrive would move it after this receive, with no reason attached.
        const reason = `transient: ${failure}`;
        await deps.deadLetter(record, reason);
        logger.error('message failed on its last receive; sent to the DLQ', {
          ...ids,
          reason,
          error: e?.name,
          code: e?.code ?? cause?.code,
        });
        return;
      }
      backoff.set(record.messageId, backoffS * receiveCount);
      logger.error('message failed; SQS will deliver it again', {
        ...ids,
        failure,
        error: e?.name,
        code: e?.code ?? cause?.code,
        retry_after_s: backoffS * receiveCount,
      });
      throw err;
    }
  }

  /**
   * Shortens the visibility of the transient failures and of the later records of their groups that are
   * returned with them (else the group stays locked for the queue's long visibility timeout). A failure here
   * only costs time: the records are reported failed either way and come back after that timeout.
   */
  async function shortenVisibility(event: SQSEvent, response: SQSBatchResponse, backoff: Map<string, number>) {
    if (backoff.size === 0) return;
    const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    const groupBackoff = new Map<string, number>();
    const entries: { record: SQSRecord; seconds: number }[] = [];
    for (const record of event.Records) {
      if (!failed.has(record.messageId)) continue;
      const group = record.attributes.MessageGroupId;
      const own = backoff.get(record.messageId);
      if (own !== undefined && group !== undefined && !groupBackoff.has(group)) groupBackoff.set(group, own);
      const seconds = own ?? (group === undefined ? undefined : groupBackoff.get(group));
      if (seconds !== undefined) entries.push({ record, seconds });
    }
    try {
      await deps.retryAfter(entries);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      logger.warn("failed records' visibility could not be shortened; they come back after the queue's timeout", {
        sqs_message_ids: entries.map((x) => x.record.messageId),
        error: e?.name,
        code: e?.code,
        ...(err instanceof VisibilityChangeError && { refused: err.failed }),
      });
    }
  }

  return middy<SQSEvent, SQSBatchResponse>().handler(async (event, context) => {
    // Per batch: the processor's bookkeeping must not mix with another batch's (the local poller runs several).
    const backoff = new Map<string, number>();
    const response = await processPartialResponse(
      event,
      (record: SQSRecord) => handleRecord(record, context, backoff),
      new SqsFifoPartialProcessorAsync(),
      {
        context,
        skipGroupOnError: true,
        throwOnFullBatchFailure: false,
      },
    );
    await shortenVisibility(event, response, backoff);
    return response;
  });
}

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/**
 * Everything a cold start builds once: the pool (on first use), the SQS client, the `complete` client.
 * `abandon` (the local runtime's shutdown) aborts the `complete` calls still waiting.
 */
export function createDepsFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  options: { abandon?: AbortSignal } = {},
): HandlerDeps & { close(): Promise<void> } {
  const logger = createLogger('handleMessage');
  const sqs = createSqsClient();
  const repliesUrl = required(env, 'REPLIES_QUEUE_URL');
  const dlqUrl = required(env, 'DLQ_URL');
  // Emulators match whole queue URLs, so the local runtime names the inbound queue; in AWS its ARN gives it.
  const inboundUrl = (record: SQSRecord) => env.INBOUND_QUEUE_URL || queueUrlFromArn(record.eventSourceARN);
  const completeUrl = required(env, 'COMPLETE_URL');
  const auth = env.COMPLETE_AUTH === 'iam' ? 'iam' : 'none';
  const historyLimit = env.HISTORY_LIMIT === undefined || env.HISTORY_LIMIT === '' ? 20 : Number(env.HISTORY_LIMIT);
  if (!Number.isInteger(historyLimit) || historyLimit < 0 || historyLimit > 1000)
    throw new Error('HISTORY_LIMIT must be an integer 0–1000');
  const doFetch = completeFetch(auth, env);

  let pool: Promise<Pool> | undefined;
  const getPool = () =>
    (pool ??= databaseConfig(env, secretsManagerReader(env, 5 * 60_000)).then((config) =>
      createPool(config, {
        onError: (err) => logger.warn('idle database connection lost; it will be replaced', { error: err.name }),
      }),
    )).catch((err) => {
      pool = undefined; // a failed secret read or bad config is retried on the next record
      throw err;
    });

  return {
    logger,
    message: {
      withTenant: async (tenantId, fn) => withTenant(await getPool(), tenantId, fn),
      runAgent: (input) => runAgent(input, completeUrl, doFetch, options.abandon),
      publishReply: (reply, groupId) => publishReply(sqs, repliesUrl, reply, groupId),
      newId: randomUUID,
      historyLimit,
      logger,
    },
    deadLetter: (record, reason) =>
      sendToDeadLetter(
        sqs,
        dlqUrl,
        {
          body: record.body,
          messageId: record.messageId,
          groupId: record.attributes.MessageGroupId ?? record.messageId,
        },
        reason,
      ),
    async retryAfter(entries) {
      if (entries.length === 0) return;
      // One batch comes from one event source, so from one queue.
      await changeVisibility(
        sqs,
        inboundUrl(entries[0]!.record),
        entries.map(({ record, seconds }) => ({
          messageId: record.messageId,
          receiptHandle: record.receiptHandle,
          seconds,
        })),
      );
    },
    async close() {
      // A pool that never came up (its secret could not be read) has nothing to end; the client still closes.
      await pool?.then((p) => p.end()).catch(() => {});
      sqs.destroy();
    },
  };
}
