// `npm start`: the whole product on one machine — Postgres, SQS, `complete` as a Function URL and
// `handleMessage` fed by an SQS event-source emulator — with the very same handlers as in AWS.
import type { Server } from 'node:http';
import { join } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { ConfigError, loadRouterConfig } from '../functions/complete/config.ts';
import { createDepsFromEnvironment as completeDeps, createHandler as completeHandler } from '../functions/complete/app.ts';
import { createDepsFromEnvironment as messageDeps, createHandler as messageHandler } from '../functions/handle-message/app.ts';
import { connectClient } from '../functions/common/db.ts';
import { createSqsClient } from '../functions/common/queue.ts';
import { migrate } from '../migrations/migrate.ts';
import { serveFunctionUrl } from './function-url.ts';
import { freePort, startPostgres } from './postgres.ts';
import { clearRuntimeState, STATE_DIR, writeRuntimeState } from './runtime-state.ts';
import { seedDemo } from './seed.ts';
import { startEventSource } from './sqs-event-source.ts';
import { ensureQueues, startSqsEmulator } from './sqs.ts';

/** Function timeouts of the stack; the local Lambda contexts count down from them. */
export const COMPLETE_TIMEOUT_MS = 120_000;
export const HANDLE_MESSAGE_TIMEOUT_MS = 180_000;

const log = (line: string) => process.stdout.write(`${line}\n`);
const cleanups: (() => Promise<unknown>)[] = [];

async function fail(message: string): Promise<never> {
  process.stderr.write(`\n✗ ${message}\n`);
  setTimeout(() => process.exit(1), 5_000).unref(); // whatever hangs in the clean-up, exit in time
  await shutdown();
  process.exit(1);
}

async function shutdown(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
}

function port(name: string, fallback: number): Promise<number> | number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) return fail(`${name}=${raw} is not a port number; use 1–65535 (or 0 for any free port).`);
  return value === 0 ? freePort() : value;
}

function listen(server: Server, portNumber: number, name: string): Promise<void> {
  return new Promise((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      void fail(
        err.code === 'EADDRINUSE'
          ? `port ${portNumber} is taken. Stop what uses it, or start with another: ${name}=${portNumber + 1} npm start`
          : `cannot listen on 127.0.0.1:${portNumber} (${err.code}).`,
      );
    });
    server.listen(portNumber, '127.0.0.1', () => resolve());
  });
}

async function step<T>(label: string, run: () => Promise<T>, hint: (err: Error) => string): Promise<T> {
  process.stdout.write(`• ${label}… `);
  const started = Date.now();
  try {
    const result = await run();
    log(`done (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return result;
  } catch (err) {
    log('failed');
    return fail(hint(err as Error));
  }
}

async function main(): Promise<void> {
  const env = process.env;
  // No AWS account needed: the emulator takes any credentials, and the SDK wants some.
  env.AWS_REGION ||= 'us-east-1';
  env.AWS_ACCESS_KEY_ID ||= 'local';
  env.AWS_SECRET_ACCESS_KEY ||= 'local';
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ||= 'true';
  log('Konstruct LLM core — local runtime');

  let loaded;
  try {
    loaded = loadRouterConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return fail(`${err.message}\nFix the file named by LLM_CONFIG, or unset LLM_CONFIG to use the built-in defaults.`);
    throw err;
  }
  const httpPort = await port('PORT', 8002);

  // Database: DATABASE_URL, or an embedded Postgres kept under .konstruct/.
  let databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) {
    const dir = join(STATE_DIR, 'postgres');
    const pgLog: string[] = [];
    const running = await step(
      `starting Postgres (embedded, data in .konstruct/postgres)`,
      () => startPostgres(dir, { onLog: (line) => pgLog.push(line) }),
      (err) => `Postgres failed to start: ${err.message}\n${pgLog.slice(-5).join('\n')}\nDelete .konstruct/postgres to start from an empty database, or set DATABASE_URL to a Postgres you run.`,
    );
    cleanups.push(() => running.stop());
    databaseUrl = running.url;
  }
  const demo = await step(
    'migrating and seeding the database',
    async () => {
      const client = await connectClient({ connectionString: databaseUrl });
      try {
        await migrate(client);
        return await seedDemo(client);
      } finally {
        await client.end();
      }
    },
    (err) => `the database at ${redact(databaseUrl!)} could not be migrated: ${err.message}\nCheck that it is reachable and that its user may create tables and roles.`,
  );

  // SQS: AWS_ENDPOINT_URL (LocalStack, another emulator), or fauxqs on SQS_PORT.
  if (!env.AWS_ENDPOINT_URL) {
    const sqsPort = await port('SQS_PORT', 9324);
    const emulator = await step(
      `starting the SQS emulator on 127.0.0.1:${sqsPort}`,
      () => startSqsEmulator(sqsPort),
      (err) =>
        /EADDRINUSE/.test(err.message)
          ? `port ${sqsPort} is taken. Stop what uses it, or start with another: SQS_PORT=${sqsPort + 1} npm start`
          : `the SQS emulator failed to start: ${err.message}`,
    );
    cleanups.push(() => emulator.stop());
    env.AWS_ENDPOINT_URL = emulator.endpoint;
  }
  const sqs = createSqsClient();
  cleanups.push(async () => sqs.destroy());
  const queues = await step('creating the FIFO queues', () => ensureQueues(sqs), (err) => `the queues could not be created at ${env.AWS_ENDPOINT_URL}: ${err.message}`);
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queues.inbound, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;

  // The two functions, configured as the stack configures them.
  const completeUrl = `http://127.0.0.1:${httpPort}`;
  Object.assign(env, {
    DATABASE_URL: databaseUrl,
    REPLIES_QUEUE_URL: queues.replies,
    DLQ_URL: queues.dlq,
    COMPLETE_URL: env.COMPLETE_URL || completeUrl,
    COMPLETE_AUTH: env.COMPLETE_AUTH || 'none',
  });
  const complete = completeDeps(env, loaded);
  cleanups.push(async () => complete.records.flush());
  const message = messageDeps(env);
  cleanups.push(() => message.close());
  let open!: () => void;
  const ready = new Promise<void>((resolve) => (open = resolve));
  const eventSource = startEventSource({
    sqs,
    queueUrl: queues.inbound,
    queueArn,
    region: env.AWS_REGION!,
    handler: messageHandler(message),
    functionName: 'handleMessage',
    timeoutMs: HANDLE_MESSAGE_TIMEOUT_MS,
    ready,
    onError: (err) => process.stderr.write(`handleMessage poller: ${(err as Error).message}\n`),
  });
  cleanups.push(() => eventSource.stop());

  const server = serveFunctionUrl(completeHandler(complete), { functionName: 'complete', timeoutMs: COMPLETE_TIMEOUT_MS });
  server.keepAliveTimeout = 65_000;
  await listen(server, httpPort, 'PORT');
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  open();
  writeRuntimeState({
    pid: process.pid,
    sqsEndpoint: env.AWS_ENDPOINT_URL!,
    region: env.AWS_REGION!,
    queues,
    completeUrl,
    demoTenantId: demo.tenantId,
    demoAgentId: demo.agentId,
  });
  cleanups.push(async () => clearRuntimeState());

  await complete.credentials.refresh();
  log('• providers:');
  let usable = 0;
  for (const d of loaded.config.deployments) {
    const key = complete.credentials.keyFor(d);
    if (key !== undefined) usable++;
    const where = d.apiBase ? ` at ${d.apiBase}` : '';
    log(`    ${key === undefined ? '✗' : '✓'} ${d.group.padEnd(10)} ${d.id}${where}${key === undefined ? `  — no key: set ${d.key.kind === 'env' ? d.key.name : `${d.provider.toUpperCase()}_API_KEY`}` : ''}`);
  }
  if (usable === 0) log('  ⚠ no provider is usable: replies will be the polite fallback. Set a key above or start Ollama.');
  log('');
  log(`✓ ready — complete at ${completeUrl} (POST /complete, GET /health)`);
  log(`  queues at ${env.AWS_ENDPOINT_URL}: ${queues.inbound.split('/').pop()} → handleMessage → ${queues.replies.split('/').pop()} (DLQ ${queues.dlq.split('/').pop()})`);
  log('  Try it:');
  log(`  curl -s ${completeUrl}/complete -H 'content-type: application/json' \\`);
  log(`    -d '{"model":"fast","tenant_id":"demo","messages":[{"role":"user","content":"Hello!"}]}'`);
  log(`  npm run send -- "Hello"     # a message to the demo agent Ava, through the queue`);
  log('  Press Ctrl-C to stop.');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`\n• ${signal}: stopping…`);
    setTimeout(() => process.exit(0), 4_500).unref();
    void shutdown().then(() => process.exit(0));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

main().catch((err: unknown) => fail(`start-up failed: ${(err as Error)?.message ?? String(err)}`));
