// Database faults during a burst: the process stays up, and every message is answered once or dead-lettered with its reason.
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../../functions/common/db.ts';
import type { KonstructMessageInput, Reply } from '../../functions/common/message.ts';
import { startPostgres, type RunningPostgres } from '../../local/postgres.ts';
import { migrate } from '../../migrations/migrate.ts';
import { createTenant } from '../helpers/database.ts';
import {
  konstructMessage,
  startPipeline,
  usePipelineTestbed,
  type Pipeline,
  type Received,
} from '../helpers/pipeline.ts';

/** The application name of the handler's connections, so the admin can terminate exactly those. */
const APP = 'konstruct-faults-app';

/** What would have killed the process: an 'error' event nobody listens to surfaces here. */
const uncaught: unknown[] = [];
const onUncaught = (err: unknown) => uncaught.push(err);
beforeAll(() => {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
});
afterAll(() => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
});
// After the listeners' hooks, so they are still listening while the pipelines stop.
const { fakes, db, start } = usePipelineTestbed();
afterEach(() => {
  uncaught.length = 0;
});

/**
 * Retries come back after a short visibility timeout, as in the stack the timeout still outlasts a batch
 * (there 6 × the function's timeout): a record redelivered while it is still being processed would be
 * SQS's at-least-once redelivery, not the fault under test.
 */
const QUEUE = { visibilityTimeoutS: 3, batchSize: 4, concurrency: 4 };

const withAppName = (url: string) => `${url}${url.includes('?') ? '&' : '?'}application_name=${APP}`;

function burst(tenantId: string, count: number, tag: string): KonstructMessageInput[] {
  return Array.from({ length: count }, (_, i) =>
    konstructMessage(tenantId, { thread_id: `${tag}-${i % 20}`, content: { text: `${tag} message ${i}` } }),
  );
}

async function sendAll(pipeline: Pipeline, messages: KonstructMessageInput[]): Promise<void> {
  for (let i = 0; i < messages.length; i += 25)
    await Promise.all(messages.slice(i, i + 25).map((m) => pipeline.send(m)));
}

/**
 * Collects replies and dead letters until every message has one of them (or `timeoutMs` passes), and
 * checks the rule: each message replied exactly once or dead-lettered once with an `error` reason, never both.
 */
async function expectEachAnsweredOrDeadLettered(
  pipeline: Pipeline,
  messages: KonstructMessageInput[],
  timeoutMs: number,
) {
  const replies: Received<Reply>[] = [];
  const dead: Received<unknown>[] = [];
  const deadline = Date.now() + timeoutMs;
  while (replies.length + dead.length < messages.length && Date.now() < deadline) {
    replies.push(...(await pipeline.replies(messages.length - replies.length - dead.length, 1_000)));
    dead.push(...(await pipeline.deadLetters(messages.length - replies.length - dead.length, 200)));
  }
  expect(uncaught).toEqual([]);
  const replied = replies.map((r) => r.body.in_reply_to);
  const deadIds = dead.map((d) => (d.body as KonstructMessageInput).id);
  expect(new Set(replied).size).toBe(replied.length); // nothing replied twice
  expect(new Set(deadIds).size).toBe(deadIds.length);
  expect(replied.filter((id) => deadIds.includes(id))).toEqual([]);
  expect(new Set([...replied, ...deadIds])).toEqual(new Set(messages.map((m) => m.id)));
  for (const d of dead) expect(d.attributes.error).toBe('transient: database unavailable');
  const { Attributes } = await pipeline.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: pipeline.queues.inbound,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  expect(
    Number(Attributes!.ApproximateNumberOfMessages) + Number(Attributes!.ApproximateNumberOfMessagesNotVisible),
  ).toBe(0);
  return { replied: replied.length, deadLettered: dead.length };
}

/** Runs `fault` every `everyMs` until the returned function is called; resolves to how often it hit something. */
function repeatedly(fault: () => Promise<number>, everyMs: number): () => Promise<number> {
  let hits = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      hits += await fault().catch(() => 0);
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return async () => {
    running = false;
    await loop;
    return hits;
  };
}

describe('backends terminated during a burst', () => {
  it('keeps the process alive; every message is replied once or dead-lettered with its reason; the pool recovers', async () => {
    const { tenantId } = await createTenant(db.admin);
    const pipeline = await start({ databaseUrl: withAppName(db.url), ...QUEUE });
    const messages = burst(tenantId, 120, 'terminated');
    await sendAll(pipeline, messages);
    // Terminate every connection of the handler, over and over, as a failover or an operator would, for
    // long enough that records fail on every receive.
    const stopFaults = repeatedly(
      async () =>
        (
          await db.admin.query(
            `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()`,
            [APP],
          )
        ).rowCount ?? 0,
      40,
    );
    await new Promise((r) => setTimeout(r, 7_000));
    const terminated = await stopFaults();
    expect(terminated).toBeGreaterThan(0);

    const outcome = await expectEachAnsweredOrDeadLettered(pipeline, messages, 60_000);
    expect(outcome.replied).toBeGreaterThan(0);
    // With the faults over, every new message is answered: broken connections were dropped, not reused.
    const after = burst(tenantId, 10, 'after');
    await sendAll(pipeline, after);
    expect((await expectEachAnsweredOrDeadLettered(pipeline, after, 20_000)).replied).toBe(10);
  }, 120_000);
});

/** Waits until a process is gone (reaped), so its shared memory is released. */
async function waitForExit(pid: number, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`process ${pid} did not exit`);
}

/** Starts Postgres again on the same port and data directory; its killed backends may hold shared memory for a moment. */
async function restartPostgres(dir: string, port: number, timeoutMs = 30_000): Promise<RunningPostgres> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await startPostgres(dir, { port, persistent: false });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

describe('Postgres killed and restarted during a burst', () => {
  it('keeps the process alive; every message is replied once or dead-lettered with its reason; answers again after the restart', async () => {
    // A Postgres of its own: killing the run's shared one would fail every other test file.
    const dir = mkdtempSync(join(tmpdir(), 'konstruct-faults-pg-'));
    chmodSync(dir, 0o755);
    let postgres: RunningPostgres | undefined;
    let pipeline: Pipeline | undefined;
    try {
      postgres = await startPostgres(dir, { persistent: false });
      const seed = createPool({ connectionString: postgres.url }, { max: 1 });
      const client = await seed.connect();
      await migrate(client);
      client.release();
      const { tenantId } = await createTenant(seed);
      await seed.end();

      pipeline = await startPipeline({ fakes, databaseUrl: postgres.url, ...QUEUE });
      const messages = burst(tenantId, 120, 'killed');
      await sendAll(pipeline, messages);
      const early = await pipeline.replies(15, 30_000); // mid-burst: some answered, most still to come
      expect(early.length).toBeGreaterThanOrEqual(15);

      const pid = Number(readFileSync(join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
      const { port } = postgres;
      postgres = undefined; // killed: nothing left to stop
      process.kill(pid, 'SIGKILL');
      await waitForExit(pid);
      postgres = await restartPostgres(dir, port);

      const rest = messages.filter((m) => !early.some((r) => r.body.in_reply_to === m.id));
      await expectEachAnsweredOrDeadLettered(pipeline, rest, 60_000);
      const after = burst(tenantId, 10, 'restarted');
      await sendAll(pipeline, after);
      expect((await expectEachAnsweredOrDeadLettered(pipeline, after, 20_000)).replied).toBe(10);
    } finally {
      await pipeline?.stop();
      await postgres?.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 150_000);
});
