// `npm start` on a bad day: emoji through the local queue, a stop under load, a first start interrupted.
// Each runtime runs as a child process with its own state folder, ports and queues' emulator.
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enqueueMessage } from '../../functions/common/queue.ts';
import { startPostgres } from '../../local/postgres.ts';
import { QUEUE_NAMES, startSqsEmulator } from '../../local/sqs.ts';
import { startFakes } from '../fakes/provider-server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import type { Fakes } from '../helpers/function-url.ts';
import { ROOT, startRuntime, waitForOutput, type Started } from '../helpers/processes.ts';

const READY = /ready — complete at (http:\/\/127\.0\.0\.1:\d+)/;
// The embedded Postgres' data directory needs a parent the postgres user can traverse (mkdtemp makes 0700).
const dir = mkdtempSync(join(tmpdir(), 'konstruct-faults-'));
chmodSync(dir, 0o755);
let fakes: Fakes;
beforeAll(async () => {
  fakes = await startFakes();
});
afterAll(async () => {
  await fakes.stop();
  rmSync(dir, { recursive: true, force: true });
});

const providers = () => ({
  ANTHROPIC_BASE_URL: fakes.anthropic.url,
  OPENAI_BASE_URL: fakes.openai.url,
  OLLAMA_BASE_URL: fakes.ollama.url,
  ANTHROPIC_API_KEY: 'sk-ant-local',
  OPENAI_API_KEY: '',
  LLM_CONFIG: '',
});

function sqsClient(endpoint: string): SQSClient {
  return new SQSClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    useQueueUrlAsEndpoint: false,
  });
}

describe('any text SQS accepts passes the local queue', () => {
  it('accepts every character range SQS allows, emoji included, and rejects what SQS rejects', async () => {
    const emulator = await startSqsEmulator(0);
    const sqs = sqsClient(emulator.endpoint);
    try {
      const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: 'characters' }));
      const allowed = 'tab\t nl\n cr\r ascii ~ \u00e9 \ud7ff \ue000 \ufffd 😀 👋🏽 \u{10ffff} 𝄞';
      await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: allowed }));
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 1 }));
      expect(Messages.map((m) => m.Body)).toEqual([allowed]);
      for (const refused of [
        'nul \u0000',
        'bell \u0007',
        'lone high \ud83d surrogate',
        'lone low \ude00',
        'non-character \ufffe',
      ]) {
        await expect(sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: refused }))).rejects.toThrow(
          /Invalid characters/,
        );
      }
    } finally {
      sqs.destroy();
      await emulator.stop();
    }
  });
});

describe('emoji through `npm run send`', () => {
  const state = join(dir, 'emoji-state');
  const db = {} as TestDatabase;
  let runtime: Started;
  beforeAll(async () => {
    Object.assign(db, await createTestDatabase());
    runtime = startRuntime({
      ...providers(),
      DATABASE_URL: db.url,
      KONSTRUCT_STATE_DIR: state,
      AWS_ENDPOINT_URL: '',
      SQS_PORT: '0',
    });
    await waitForOutput(runtime, READY);
  });
  afterAll(async () => {
    await runtime?.stop();
    await db.drop?.();
  });

  const send = async (text: string) => {
    const sender = startRuntime(
      { KONSTRUCT_STATE_DIR: state, AWS_ENDPOINT_URL: '', SEND_TIMEOUT_MS: '20000' },
      'local/send.ts',
      [text],
    );
    expect(await sender.exited).toBe(0);
    return sender.output();
  };

  it('delivers a message with an emoji to the model intact', async () => {
    await send('hello 😀 — 👩🏽‍💻');
    expect(fakes.anthropic.requests.at(-1)!.body.messages).toEqual([{ role: 'user', content: 'hello 😀 — 👩🏽‍💻' }]);
  });

  it('delivers a reply with an emoji through the replies queue', async () => {
    fakes.anthropic.next({ content: 'Bonjour 👋🏽, happy to help 😀' });
    const output = await send('Hello');
    expect(output).toContain('← Ava (anthropic/claude-sonnet-4-20250514):\nBonjour 👋🏽, happy to help 😀\n');
    const stored = await db.admin.query(
      "SELECT content FROM conversation_messages WHERE role = 'assistant' ORDER BY seq DESC LIMIT 1",
    );
    expect(stored.rows[0].content).toBe('Bonjour 👋🏽, happy to help 😀');
  });
});

describe('shutdown under load', { timeout: 60_000 }, () => {
  it('abandons what still waits on complete after the grace period: no fallback reply, nothing deleted, stopped within 5 s', async () => {
    const db = await createTestDatabase();
    // The queues live in the test's emulator, so they outlive the runtime and can be counted afterwards.
    const emulator = await startSqsEmulator(0);
    const sqs = sqsClient(emulator.endpoint);
    const runtime = startRuntime({
      ...providers(),
      DATABASE_URL: db.url,
      KONSTRUCT_STATE_DIR: join(dir, 'load-state'),
      AWS_ENDPOINT_URL: emulator.endpoint,
    });
    try {
      await waitForOutput(runtime, READY);
      const { QueueUrl: inbound } = await sqs.send(new GetQueueUrlCommand({ QueueName: QUEUE_NAMES.inbound }));
      const tenant = (await db.admin.query("SELECT id FROM tenants WHERE slug = 'demo'")).rows[0].id as string;

      // The first answers come at once, the next four slowly (they finish within the grace period), the rest never.
      const quick = 6;
      const slow = 4;
      fakes.anthropic.next(
        ...Array.from({ length: quick }, () => ({})),
        ...Array.from({ length: slow }, () => ({ delayMs: 1_500 })),
      );
      fakes.anthropic.always({ hang: true });
      const burst = 40;
      for (let i = 0; i < burst; i++) {
        await enqueueMessage(
          {
            id: `burst-${i}`,
            tenant_id: tenant,
            channel: 'slack',
            sender: { user_id: 'U1', display_name: 'Dana' },
            content: { text: `question ${i}` },
            timestamp: new Date().toISOString(),
            thread_id: `thread-${i}`,
          },
          { sqs, queueUrl: inbound! },
        );
      }
      await expect
        .poll(() => fakes.anthropic.count, { timeout: 30_000, interval: 20 })
        .toBeGreaterThanOrEqual(quick + slow);

      const signalled = Date.now();
      runtime.signal('SIGTERM');
      expect(await runtime.exited).toBe(0);
      expect(Date.now() - signalled).toBeLessThan(6_000); // the product's 5 s, with a second of margin for a busy machine

      const rows = await db.admin.query<{ replies: number; fallbacks: number }>(
        "SELECT count(*) FILTER (WHERE role = 'assistant')::int AS replies, count(*) FILTER (WHERE fallback)::int AS fallbacks FROM conversation_messages",
      );
      expect(rows.rows[0]).toEqual({ replies: quick + slow, fallbacks: 0 });
      // Every other message is still in the queue (in flight until its visibility timeout): none deleted, none lost.
      const { Attributes = {} } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: inbound,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      expect(
        Number(Attributes.ApproximateNumberOfMessages) + Number(Attributes.ApproximateNumberOfMessagesNotVisible),
      ).toBe(burst - quick - slow);
      expect(runtime.output()).toContain('abandoned at shutdown');
      expect(runtime.output()).toContain('• stopped.');
    } finally {
      await runtime.stop();
      fakes.anthropic.reset();
      sqs.destroy();
      await emulator.stop();
      await db.drop();
    }
  });
});

// Each test runs initdb at least once: seconds on a busy machine.
describe('an interrupted first start', { timeout: 120_000 }, () => {
  /** `npm start` with the embedded Postgres under `state`, in a process group of its own (as a terminal job). */
  const start = (state: string) =>
    startRuntime(
      { ...providers(), DATABASE_URL: '', KONSTRUCT_STATE_DIR: state, AWS_ENDPOINT_URL: '', SQS_PORT: '0' },
      'local/start.ts',
      [],
      { group: true },
    );

  /** Waits until initdb has begun writing a data directory under `postgres/` (it writes PG_VERSION first). */
  async function initdbRunning(state: string): Promise<void> {
    const postgres = join(state, 'postgres');
    await expect
      .poll(
        () =>
          existsSync(postgres) && readdirSync(postgres).some((name) => existsSync(join(postgres, name, 'PG_VERSION'))),
        { timeout: 30_000, interval: 10 },
      )
      .toBe(true);
  }

  async function startsAndAnswers(state: string): Promise<void> {
    const runtime = start(state);
    try {
      const url = (await waitForOutput(runtime, READY, 60_000))[1]!;
      expect((await fetch(`${url}/health`)).status).toBe(200);
      expect(await runtime.stop()).toBe(0);
    } finally {
      await runtime.stop();
    }
  }

  it('stops on Ctrl-C while initdb runs, and the next start initialises and starts', async () => {
    const state = join(dir, 'ctrl-c');
    const first = start(state);
    try {
      await initdbRunning(state);
      first.signal('SIGINT'); // Ctrl-C reaches the whole foreground job: npm start and initdb
      expect(await first.exited).toBe(0);
      expect(first.output()).toContain('• stopped.');
    } finally {
      await first.stop();
    }
    await startsAndAnswers(state);
  });

  it('starts after a crash during initdb, removing what the crashed start left', async () => {
    const state = join(dir, 'crash');
    const first = start(state);
    try {
      await initdbRunning(state);
      first.signal('SIGKILL');
      await first.exited;
    } finally {
      await first.stop();
    }
    await startsAndAnswers(state);
    expect(readdirSync(join(state, 'postgres'))).toEqual(['data']);
  });

  it('creates the database when an earlier start stopped between initdb and creating it', async () => {
    const state = join(dir, 'no-database');
    const postgres = await startPostgres(join(state, 'postgres'));
    const admin = new pg.Client({ connectionString: postgres.url.replace(/\/konstruct$/, '/postgres') });
    await admin.connect();
    await admin.query('DROP DATABASE konstruct');
    await admin.end();
    await postgres.stop();
    await startsAndAnswers(state);
  });

  it('names the data directory to delete when it is damaged, and following that hint starts again', async () => {
    const state = join(dir, 'damaged');
    const postgres = await startPostgres(join(state, 'postgres'));
    await postgres.stop();
    const versionFile = join(state, 'postgres', 'data', 'PG_VERSION');
    writeFileSync(versionFile, `${Number(readFileSync(versionFile, 'utf8')) - 5}\n`); // files of another major version

    const refused = start(state);
    expect(await refused.exited).toBe(1);
    const hint = refused.output().match(/delete (\S+) to start from an empty database/);
    expect(hint, refused.output()).not.toBeNull();
    const named = isAbsolute(hint![1]!) ? hint![1]! : join(ROOT, hint![1]!);
    expect(named).toBe(join(state, 'postgres'));
    rmSync(named, { recursive: true, force: true });
    await startsAndAnswers(state);
  });
});
