// `npx tsx bench/cpu.ts`: the `complete` handler's own CPU per call, in-process, against the fake provider in a child process.
// The handler is called as the Lambda runtime calls it (an event object in, a result out), so neither the
// Function-URL emulator nor a load generator shares the figure; the fake provider's CPU is in its own process.
// BENCH_CPU_CALLS (default 20 000) calls, 16 at a time (BENCH_CPU_CONCURRENCY), after a warm-up of 3 000.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { createDepsFromEnvironment, createHandler } from '../functions/complete/app.ts';
import { lambdaContext } from '../local/lambda-context.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const CALLS = Number(process.env.BENCH_CPU_CALLS ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CPU_CONCURRENCY ?? 16);
const WARMUP = 3_000;
const BODY = JSON.stringify({
  model: 'bench',
  tenant_id: 'bench',
  messages: [{ role: 'user', content: 'Hello, how are you today?' }],
});

const fake = spawn(process.execPath, ['--import', 'tsx', 'bench/fake-upstream.ts'], {
  cwd: ROOT,
  env: { ...process.env, DELAY_MS: '0' },
  stdio: ['ignore', 'pipe', 'inherit'],
});
const fakeUrl = await new Promise<string>((resolve, reject) => {
  let seen = '';
  fake.stdout!.on('data', (chunk: Buffer) => {
    seen += chunk.toString();
    const match = seen.match(/^(http\S+)$/m);
    if (match) resolve(match[1]!);
  });
  fake.on('exit', (code) => reject(new Error(`the fake provider exited with ${code}`)));
});

const dir = mkdtempSync(join(tmpdir(), 'konstruct-cpu-'));
const config = join(dir, 'config.json');
writeFileSync(
  config,
  JSON.stringify({
    model_list: [
      {
        model_name: 'bench',
        litellm_params: { model: 'openai/gpt-4o', api_base: fakeUrl, api_key: 'os.environ/BENCH_KEY' },
      },
    ],
  }),
);
// The cost records go to a sink, as they would go to a pipe in Lambda: their building is measured, not a terminal.
const sink = { write: () => true } as unknown as NodeJS.WritableStream;
const realWrite = process.stdout.write.bind(process.stdout);
process.stdout.write = sink.write as typeof process.stdout.write;
const handler = createHandler(
  createDepsFromEnvironment({
    ...process.env,
    LLM_CONFIG: config,
    BENCH_KEY: 'sk-bench',
    POWERTOOLS_LOG_LEVEL: 'INFO',
  }),
);

/** A fresh event per call, shaped as a Function URL delivers it (the runtime parses one per call). */
function event(n: number): APIGatewayProxyEventV2 {
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: '/complete',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', host: 'localhost', 'content-length': String(BODY.length) },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'local',
      domainName: 'localhost',
      domainPrefix: 'local',
      http: { method: 'POST', path: '/complete', protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: '' },
      requestId: `r${n}`,
      routeKey: '$default',
      stage: '$default',
      time: '',
      timeEpoch: now,
    },
    body: BODY,
    isBase64Encoded: false,
  };
}

let failures = 0;
async function run(calls: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < calls) {
      const n = next++;
      const result = await handler(event(n), lambdaContext('complete', 120_000, `r${n}`));
      if (result.statusCode !== 200) failures++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

let gcCount = 0;
let gcMs = 0;
const gcs = new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    gcCount++;
    gcMs += entry.duration;
  }
});

try {
  await run(WARMUP);
  gcs.observe({ entryTypes: ['gc'] });
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await run(CALLS);
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  gcs.disconnect();
  const perCall = (cpu.user + cpu.system) / CALLS;
  realWrite(
    `handler CPU per call: ${perCall.toFixed(0)} µs (user ${(cpu.user / CALLS).toFixed(0)}, system ${(cpu.system / CALLS).toFixed(0)}); ` +
      `${CALLS} calls at concurrency ${CONCURRENCY} in ${(wall / 1000).toFixed(1)} s (${Math.round((CALLS * 1000) / wall)}/s); ` +
      `GC: ${gcCount} pauses, ${((gcMs * 1000) / CALLS).toFixed(1)} µs per call${failures ? `; ${failures} calls failed` : ''}\n`,
  );
} finally {
  fake.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
process.exit(failures ? 1 : 0);
