// `npm start`: the whole product on one machine — Postgres, SQS, `complete` as a Function URL and
// `handleMessage` fed by an SQS event-source emulator — with the very same handlers as in AWS.
import type { Server } from 'node:http';
import { join, relative } from 'node:path';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { ConfigError, loadRouterConfig } from '../functions/complete/config.ts';
import { providerNamed } from '../functions/complete/providers/registry.ts';
import {
  createDepsFromEnvironment as completeDeps,
  createHandler as completeHandler,
  streamingEntry,
} from '../functions/complete/app.ts';
import {
  createDepsFromEnvironment as messageDeps,
  createHandler as messageHandler,
} from '../functions/handle-message/app.ts';
import { connectClient } from '../functions/common/db.ts';
import { createSqsClient } from '../functions/common/queue.ts';
import { migrate } from '../migrations/migrate.ts';
import { installAwsLambdaGlobal } from './awslambda-global.ts';
import { serveFunctionUrl } from './function-url.ts';
import { DataDirectoryInUse, freePort, startPostgres } from './postgres.ts';
import { probeDeployments } from './provider-probe.ts';
import { clearRuntimeState, STATE_DIR, writeRuntimeState } from './runtime-state.ts';
import { seedDemo } from './seed.ts';
import { startEventSource } from './sqs-event-source.ts';
import { ensureQueues, startSqsEmulator } from './sqs.ts';

/** Function timeouts of the stack; the local Lambda contexts count down from them. */
export const COMPLETE_TIMEOUT_MS = 120_000;
export const HANDLE_MESSAGE_TIMEOUT_MS = 180_000;
/** At a stop, how long the records in flight may go on before their `complete` calls are abandoned. */
const GRACE_MS = 4_000;
/** Whatever hangs in the clean-up, the process exits within 5 s of a signal. */
const HARD_EXIT_MS = 4_900;

const log = (line: string) => process.stdout.write(`${line}\n`);
/** What has been started, stopped in reverse order. */
const cleanups: (() => Promise<unknown>)[] = [];
/** What must not outlive the process when the clean-up runs out of time (the embedded Postgres). */
const onHardExit: (() => void)[] = [];

function hardExit(code: number): never {
  for (const last of onHardExit) {
    try {
      last();
    } catch {
      // exiting regardless
    }
  }
  process.exit(code);
}
/** Aborted by SIGINT/SIGTERM: a start-up step in progress goes no further. */
const stopping = new AbortController();
/** The start-up step in progress: a stop waits for it, so that what it started is stopped too. */
let inProgress: Promise<unknown> = Promise.resolve();

async function fail(message: string): Promise<never> {
  stopping.abort(); // a signal meanwhile must not cut this clean-up short
  process.stderr.write(`\n✗ ${message}\n`);
  setTimeout(() => hardExit(1), HARD_EXIT_MS).unref();
  await shutdown();
  process.exit(1);
}

async function shutdown(): Promise<void> {
  await inProgress;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
}

function stop(signal: string): void {
  if (stopping.signal.aborted) return;
  stopping.abort();
  log(`\n• ${signal}: stopping…`);
  setTimeout(() => {
    log('• stopping took too long; exiting now (Postgres was asked to stop).');
    hardExit(1);
  }, HARD_EXIT_MS).unref();
  void shutdown().then(() => {
    log('• stopped.');
    process.exit(0);
  });
}

function port(name: string, fallback: number): Promise<number> | number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535)
    return fail(`${name}=${raw} is not a port number; use 1–65535 (or 0 for any free port).`);
  return value === 0 ? freePort() : value;
}

function listen(server: Server, portNumber: number, name: string): Promise<void> {
  return new Promise((resolve) => {
    const onError = (err: NodeJS.ErrnoException) => {
      void fail(
        err.code === 'EADDRINUSE'
          ? `port ${portNumber} is taken. Stop what uses it, or start with another: ${name}=${portNumber + 1} npm start`
          : `cannot listen on 127.0.0.1:${portNumber} (${err.code}).`,
      );
    };
    server.once('error', onError);
    server.listen(portNumber, '127.0.0.1', () => {
      server.off('error', onError); // a later error of one connection must not stop the runtime
      resolve();
    });
  });
}

/**
 * Runs one start-up step. What it started is registered (`stopWith`) as soon as it is up, so a stop that
 * comes meanwhile stops it; after a stop the start-up goes no further.
 */
async function step<T>(
  label: string,
  run: () => Promise<T>,
  hint: (err: Error) => string,
  stopWith?: (result: T) => () => Promise<unknown>,
): Promise<T> {
  if (stopping.signal.aborted) return new Promise<never>(() => {});
  process.stdout.write(`• ${label}… `);
  const started = Date.now();
  const running = run();
  inProgress = running.catch(() => {});
  let result: T;
  try {
    result = await running;
  } catch (err) {
    if (stopping.signal.aborted) return new Promise<never>(() => {});
    log('failed');
    return fail(hint(err instanceof Error ? err : new Error(String(err))));
  }
  if (stopWith) cleanups.push(stopWith(result));
  log(`done (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  if (stopping.signal.aborted) return new Promise<never>(() => {});
  return result;
}

async function main(): Promise<void> {
  const env = process.env;
  env.AWS_REGION ||= 'us-east-1';
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ||= 'true';
  log('Konstruct LLM core — local runtime');
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  let loaded;
  try {
    loaded = loadRouterConfig(env);
  } catch (err) {
    if (err instanceof ConfigError)
      return fail(
        `${err.message}\nFix the file named by LLM_CONFIG, or unset LLM_CONFIG to use the built-in defaults.`,
      );
    throw err;
  }
  // All at once, now: by the time the providers are printed they are done.
  const probes = probeDeployments(loaded.config.deployments);
  // No AWS account needed: the emulator takes any credentials, and the SDK wants some. Dummy ones only when
  // the default chain finds none, though: in the environment they would come first, and Bedrock get them.
  if (!(await probes.awsCredentials)) {
    env.AWS_ACCESS_KEY_ID ||= 'local';
    env.AWS_SECRET_ACCESS_KEY ||= 'local';
  }
  const httpPort = await port('PORT', 8002);

  // Database: DATABASE_URL, or an embedded Postgres kept under .konstruct/.
  let databaseUrl = env.DATABASE_URL;
  if (!databaseUrl) {
    const dir = join(STATE_DIR, 'postgres');
    const shown = relative(process.cwd(), dir).startsWith('..') ? dir : relative(process.cwd(), dir);
    const pgLog: string[] = [];
    const running = await step(
      `starting Postgres (embedded, data in ${shown})`,
      () => startPostgres(dir, { onLog: (line) => pgLog.push(line), signal: stopping.signal }),
      (err) =>
        err instanceof DataDirectoryInUse
          ? err.message
          : `Postgres failed to start: ${err.message}\n${pgLog.slice(-5).join('\n').trim()}\n` +
            `If the log above is about the data directory (damaged, or from another Postgres version), delete ${shown} to start from an empty database (its local data is lost); or set DATABASE_URL to a Postgres you run.`,
      (postgres) => () => postgres.stop(),
    );
    // Under load the records in flight take most of the 5 s a stop has; Postgres' own stop must be quick.
    stopping.signal.addEventListener('abort', () => void running.checkpoint().catch(() => {}), { once: true });
    onHardExit.push(() => running.stopNow());
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
    (err) =>
      `the database at ${redact(databaseUrl!)} could not be migrated: ${err.message}\nCheck that it is reachable and that its user may create tables and roles.`,
  );

  // SQS: AWS_ENDPOINT_URL(_SQS) (LocalStack, another emulator), or fauxqs on SQS_PORT.
  if (!env.AWS_ENDPOINT_URL && !env.AWS_ENDPOINT_URL_SQS) {
    const sqsPort = await port('SQS_PORT', 9324);
    const emulator = await step(
      `starting the SQS emulator on 127.0.0.1:${sqsPort}`,
      () => startSqsEmulator(sqsPort),
      (err) =>
        /EADDRINUSE/.test(err.message)
          ? `port ${sqsPort} is taken. Stop what uses it, or start with another: SQS_PORT=${sqsPort + 1} npm start`
          : `the SQS emulator failed to start: ${err.message}`,
      (started) => () => started.stop(),
    );
    // For SQS only: Bedrock (the SDK's default chain and endpoint) must still reach AWS itself.
    env.AWS_ENDPOINT_URL_SQS = emulator.endpoint;
  }
  const sqsEndpoint = (env.AWS_ENDPOINT_URL_SQS || env.AWS_ENDPOINT_URL)!;
  const sqs = createSqsClient();
  cleanups.push(async () => sqs.destroy());
  const queues = await step(
    'creating the FIFO queues',
    () => ensureQueues(sqs),
    (err) => `the queues could not be created at ${sqsEndpoint}: ${err.message}`,
  );
  const queueArn = (
    await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queues.inbound, AttributeNames: ['QueueArn'] }))
  ).Attributes!.QueueArn!;

  // The two functions, configured as the stack configures them.
  const completeUrl = `http://127.0.0.1:${httpPort}`;
  Object.assign(env, {
    DATABASE_URL: databaseUrl,
    INBOUND_QUEUE_URL: queues.inbound,
    REPLIES_QUEUE_URL: queues.replies,
    DLQ_URL: queues.dlq,
    COMPLETE_URL: env.COMPLETE_URL || completeUrl,
    COMPLETE_AUTH: env.COMPLETE_AUTH || 'none',
  });
  const complete = completeDeps(env, loaded);
  cleanups.push(async () => complete.records.flush());
  // Stopping aborts what still waits on `complete` after the grace period: those records stay in the queue.
  const abandon = new AbortController();
  const message = messageDeps(env, { abandon: abandon.signal });
  cleanups.push(() => message.close());
  // `complete` closes only after the pollers are done (cleanups run in reverse), so no record in flight
  // loses its `complete` and turns into a fallback reply.
  installAwsLambdaGlobal(); // before the entry is built, as the runtime installs it before loading the function
  const server = serveFunctionUrl(streamingEntry(completeHandler(complete)), {
    functionName: 'complete',
    timeoutMs: COMPLETE_TIMEOUT_MS,
  });
  server.keepAliveTimeout = 65_000;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
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
  cleanups.push(() => eventSource.stop({ graceMs: GRACE_MS, abandon: () => abandon.abort() }));

  await listen(server, httpPort, 'PORT');
  if (stopping.signal.aborted) return;
  open();
  writeRuntimeState({
    pid: process.pid,
    sqsEndpoint,
    region: env.AWS_REGION!,
    queues,
    completeUrl,
    demoTenantId: demo.tenantId,
    demoAgentId: demo.agentId,
  });
  cleanups.push(async () => clearRuntimeState());

  await complete.credentials.refresh();
  const readiness = await probes.readiness;
  log('• providers:');
  let usable = 0;
  for (const d of loaded.config.deployments) {
    const key = complete.credentials.keyFor(d);
    const probe = readiness.get(d.id);
    const name = `${d.group.padEnd(10)} ${d.id}`;
    if (key === undefined) {
      const variable = d.key.kind === 'env' ? d.key.name : (providerNamed(d.provider).credential?.variable ?? 'a key');
      log(`    ✗ ${name} at ${redact(d.apiBase)}  — no key: set ${variable}`);
    } else if (probe?.ok === false) {
      log(`    ✗ ${name} ${probe.problem}: ${probe.todo}`);
    } else {
      usable++;
      log(`    ✓ ${name}${d.apiBase ? ` at ${redact(d.apiBase)}` : ''}`);
    }
  }
  if (usable === 0)
    log('  ⚠ no provider is usable: replies will be the polite fallback. Set a key above or start Ollama.');
  log('');
  log(`✓ ready — complete at ${completeUrl} (POST /complete, GET /health)`);
  log(`  OpenAI clients: base URL ${completeUrl}/v1, header x-konstruct-tenant: demo`);
  log(
    `  queues at ${sqsEndpoint}: ${queues.inbound.split('/').pop()} → handleMessage → ${queues.replies.split('/').pop()} (DLQ ${queues.dlq.split('/').pop()})`,
  );
  log('  Try it:');
  log(`  curl -s ${completeUrl}/complete -H 'content-type: application/json' \\`);
  log(`    -d '{"model":"fast","tenant_id":"demo","messages":[{"role":"user","content":"Hello!"}]}'`);
  log(
    `  curl -N ${completeUrl}/v1/chat/completions -H 'content-type: application/json' -H 'x-konstruct-tenant: demo' \\`,
  );
  log(`    -d '{"model":"fast","stream":true,"messages":[{"role":"user","content":"Hello!"}]}'`);
  log(`  npm run send -- "Hello"     # a message to the demo agent Ava, through the queue`);
  log('  Press Ctrl-C to stop.');
}

function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, '//$1:***@');
}

main().catch((err: unknown) => fail(`start-up failed: ${(err as Error)?.message ?? String(err)}`));
