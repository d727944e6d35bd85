// End-to-end figures for handleMessage: queue → handler → Postgres → complete → fake provider → replies queue.
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate } from '../migrations/migrate.ts';
import { startPostgres } from '../local/postgres.ts';
import { seedDemo } from '../local/seed.ts';
import { startSqsEmulator } from '../local/sqs.ts';
import { startFakes } from '../tests/fakes/provider-server.ts';
import { konstructMessage, startPipeline } from '../tests/helpers/pipeline.ts';

export interface PipelineFigures {
  messages: number;
  conversations: number;
  batchSize: number;
  concurrency: number;
  perSecond: number;
  p50: number;
  p99: number;
}

export async function measurePipeline(options: {
  messages: number;
  conversations: number;
  batchSize: number;
  concurrency: number;
}): Promise<PipelineFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'konstruct-bench-pg-'));
  chmodSync(dir, 0o755);
  const postgres = await startPostgres(dir, { persistent: false });
  const sqsEmulator = await startSqsEmulator(0);
  Object.assign(process.env, {
    AWS_ENDPOINT_URL: sqsEmulator.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'bench',
    AWS_SECRET_ACCESS_KEY: 'bench',
  });
  const fakes = await startFakes();
  for (const fake of [fakes.anthropic, fakes.openai, fakes.ollama]) fake.record = false;
  const client = new pg.Client({ connectionString: postgres.url });
  await client.connect();
  await migrate(client);
  const { tenantId } = await seedDemo(client);
  await client.end();
  // The handlers' JSON log lines are written (their cost is part of the figures) but not shown.
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) =>
    typeof chunk === 'string' && chunk.startsWith('{') ? true : write(chunk, ...rest)) as typeof process.stdout.write;
  const pipeline = await startPipeline({
    fakes,
    databaseUrl: postgres.url,
    batchSize: options.batchSize,
    concurrency: options.concurrency,
  });
  try {
    const sentAt = new Map<string, number>();
    const messages = Array.from({ length: options.messages }, (_, i) =>
      konstructMessage(tenantId, {
        thread_id: `bench-${i % options.conversations}`,
        content: { text: `message ${i}` },
      }),
    );
    const started = performance.now();
    const sending = (async () => {
      for (let i = 0; i < messages.length; i += 20) {
        await Promise.all(
          messages.slice(i, i + 20).map(async (m) => {
            sentAt.set(m.id, performance.now());
            await pipeline.send(m);
          }),
        );
      }
    })();
    const latencies: number[] = [];
    let last = started;
    while (latencies.length < messages.length && performance.now() - started < 120_000) {
      for (const reply of await pipeline.replies(Math.min(10, messages.length - latencies.length), 2_000)) {
        last = performance.now();
        latencies.push(last - sentAt.get(reply.body.in_reply_to)!);
      }
    }
    await sending;
    latencies.sort((a, b) => a - b);
    return {
      ...options,
      perSecond: latencies.length / ((last - started) / 1000),
      p50: latencies[Math.floor(latencies.length * 0.5)] ?? NaN,
      p99: latencies[Math.floor(latencies.length * 0.99)] ?? NaN,
    };
  } finally {
    process.stdout.write = write;
    await pipeline.stop();
    await fakes.stop();
    await sqsEmulator.stop();
    await postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
