// `npm run bench`: what the router costs on top of calling a provider directly, its cold start and its bundle size.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { synthesizedBundles } from './bundle.ts';
import { measurePipeline, type PipelineFigures } from './pipeline.ts';
import { LOADER, runLoad, type LoadResult } from './load.ts';
import {
  DURATION_MS,
  OUT,
  ROOT,
  ROUNDS,
  median,
  ms,
  say,
  startChild,
  startRuntime,
  stopChildren,
  us,
} from './harness.ts';
import { streaming, streamTable, type StreamRows } from './streaming.ts';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ||= 'true';
/** Comma-separated lists that pick rows, e.g. `BENCH_CONCURRENCIES=16 BENCH_DELAYS_MS=0,50`. */
const list = (value: string | undefined, fallback: number[]) =>
  value
    ? value
        .split(',')
        .map(Number)
        .filter((n) => Number.isFinite(n))
    : fallback;
const CONCURRENCIES = list(process.env.BENCH_CONCURRENCIES, [1, 16, 64]);
const DELAYS_MS = list(process.env.BENCH_DELAYS_MS, [0, 50]);
/** `BENCH_ONLY=complete`: only the `POST /complete` rows (no bundles, no handleMessage pipeline), for quick comparisons. */
const ONLY_COMPLETE = process.env.BENCH_ONLY === 'complete';
const BODY_DIRECT = JSON.stringify({
  model: 'gpt-4o',
  messages: [{ role: 'user', content: 'Hello, how are you today?' }],
});
const BODY_ROUTED = JSON.stringify({
  model: 'bench',
  tenant_id: 'bench',
  messages: [{ role: 'user', content: 'Hello, how are you today?' }],
});

interface Row {
  delay: number;
  concurrency: number;
  direct: LoadResult;
  /** The same load through a `node:http` proxy with no logic: what any proxy costs on this machine. */
  bare: LoadResult;
  /** The same load through a proxy that only calls the `openai` adapter: the floor while the official SDK stays. */
  sdk: LoadResult;
  routed: LoadResult;
}

async function overhead(): Promise<Row[]> {
  const rows: Row[] = [];
  mkdirSync(OUT, { recursive: true });
  for (const delay of DELAYS_MS) {
    const fakeUrl = await startChild(['bench/fake-upstream.ts'], { DELAY_MS: String(delay) }, /^(http\S+)$/m);
    const bareChild = startChild(['bench/bare-proxy.ts'], { UPSTREAM: `${fakeUrl}/chat/completions` }, /^(http\S+)$/m);
    const bareUrl = await bareChild;
    const sdkChild = startChild(['bench/sdk-proxy.ts'], { UPSTREAM: fakeUrl }, /^(http\S+)$/m);
    const sdkUrl = await sdkChild;
    const runtimeChild = startRuntime(fakeUrl);
    const runtimeUrl = await runtimeChild;
    for (const concurrency of CONCURRENCIES) {
      process.stdout.write(
        `• upstream ${delay} ms, concurrency ${concurrency}, ${ROUNDS} rounds of direct / bare proxy / SDK-only proxy / through complete: `,
      );
      // Interleaved rounds, then the median of each figure: this VM's speed drifts by tens of percent
      // within a minute, and a drift during one target's only run would skew its ratio.
      const runs = {
        direct: [] as LoadResult[],
        bare: [] as LoadResult[],
        sdk: [] as LoadResult[],
        routed: [] as LoadResult[],
      };
      for (let round = 0; round < ROUNDS; round++) {
        runs.direct.push(
          await runLoad({
            url: `${fakeUrl}/chat/completions`,
            body: BODY_DIRECT,
            concurrency,
            durationMs: DURATION_MS,
          }),
        );
        runs.bare.push(
          await runLoad({
            url: bareUrl,
            body: BODY_DIRECT,
            concurrency,
            durationMs: DURATION_MS,
            server: bareChild.pid,
          }),
        );
        runs.sdk.push(
          await runLoad({
            url: sdkUrl,
            body: BODY_DIRECT,
            concurrency,
            durationMs: DURATION_MS,
            server: sdkChild.pid,
          }),
        );
        runs.routed.push(
          await runLoad({
            url: `${runtimeUrl}/complete`,
            body: BODY_ROUTED,
            concurrency,
            durationMs: DURATION_MS,
            server: runtimeChild.pid,
          }),
        );
        process.stdout.write(`${round + 1} `);
      }
      const [direct, bare, sdk, routed] = [runs.direct, runs.bare, runs.sdk, runs.routed].map(medianRun) as [
        LoadResult,
        LoadResult,
        LoadResult,
        LoadResult,
      ];
      const errors = routed.errors + sdk.errors + bare.errors + direct.errors;
      say(
        `— ${Math.round(routed.rps)} vs ${Math.round(direct.rps)} req/s (bare proxy ${Math.round(bare.rps)}, SDK-only ${Math.round(sdk.rps)}); ` +
          `CPU per request ${us(routed.serverCpuUs)} µs (bare proxy ${us(bare.serverCpuUs)}, SDK-only ${us(sdk.serverCpuUs)})${errors ? ` (${errors} errors)` : ''}`,
      );
      rows.push({ delay, concurrency, direct, bare, sdk, routed });
    }
    stopChildren();
  }
  return rows;
}

/** Each figure's median over the rounds; errors are summed. */
function medianRun(runs: LoadResult[]): LoadResult {
  return {
    requests: median(runs.map((r) => r.requests)),
    errors: runs.reduce((sum, r) => sum + r.errors, 0),
    rps: median(runs.map((r) => r.rps)),
    p50: median(runs.map((r) => r.p50)),
    p99: median(runs.map((r) => r.p99)),
    serverCpuUs: median(runs.map((r) => r.serverCpuUs)),
  };
}

type Built = { name: string; bytes: number; importMs: number; nodeOptions: string };

async function bundles(): Promise<Built[]> {
  const results = [];
  process.stdout.write('• synthesizing the stack (bundles built as for deploy)… ');
  const synthesized = synthesizedBundles();
  say('done');
  for (const { name, file, bytes, nodeOptions } of synthesized) {
    process.stdout.write(`• ${name}${nodeOptions ? ` (NODE_OPTIONS=${nodeOptions})` : ''}: `);
    const times = [];
    for (let i = 0; i < 7; i++) {
      // The Lambda runtime defines the `awslambda` global before it loads a handler (complete's streaming
      // entry uses it at import); this stands in for it, outside the timed import.
      const script =
        `globalThis.awslambda = { streamifyResponse: (f) => f, HttpResponseStream: { from: (s) => s } };` +
        `const t = performance.now(); await import(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - t));`;
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: ROOT,
        env: {
          ...process.env,
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          POWERTOOLS_LOG_LEVEL: 'WARN',
          LLM_CONFIG: '',
          // What the stack sets for handleMessage; nothing is contacted at import.
          REPLIES_QUEUE_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/replies.fifo',
          DLQ_URL: 'https://sqs.us-east-1.amazonaws.com/000000000000/dlq.fifo',
          COMPLETE_URL: 'https://example.lambda-url.us-east-1.on.aws',
          // The flags the function starts with in Lambda (none today: no --enable-source-maps).
          NODE_OPTIONS: nodeOptions,
        },
        encoding: 'utf8',
      });
      if (run.status !== 0) throw new Error(`importing the ${name} bundle failed:\n${run.stderr}`);
      times.push(Number(run.stdout));
    }
    const importMs = median(times);
    say(`${(bytes / 1024).toFixed(0)} KiB, import ${importMs.toFixed(0)} ms`);
    results.push({ name, bytes, importMs, nodeOptions });
  }
  return results;
}

function table(rows: Row[], built: Built[], flows: PipelineFigures[], streams: StreamRows): string {
  const lines = [
    `Machine: ${process.platform}/${process.arch}, ${os.cpus().length} cores, Node ${process.version}; load from ${LOADER === 'wrk' ? 'wrk' : 'a Node loader (install wrk for figures with less client CPU)'}, median of ${ROUNDS} interleaved runs of ${DURATION_MS / 1000} s, each after a warm-up. Added latency = through \`complete\` minus direct. The bare-proxy columns are the same load through a \`node:http\` proxy with no logic (\`bench/bare-proxy.ts\`): what any Node proxy costs on this machine in the same run. The SDK-only proxy (\`bench/sdk-proxy.ts\`) forwards the same load through the \`openai\` adapter \`complete\` uses and nothing else (no validation, routing, deadline or cost record): the most a proxy that keeps the official SDK can do here. Server CPU per request: user + system time of the process that answers (the local runtime, the SDK-only proxy or the bare proxy) over the measured run, divided by its requests.`,
    '',
    '| upstream | concurrency | direct p50 / p99 (ms) | via complete p50 / p99 (ms) | added p50 | added p99 | direct req/s | via complete req/s | throughput ratio | bare proxy: added p50 / p99, ratio | ratio to bare proxy | SDK-only proxy: added p50 / p99, ratio to bare proxy | server CPU per request: complete / SDK-only / bare proxy (µs) |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      ({ delay, concurrency, direct, bare, sdk, routed }) =>
        `| ${delay} ms | ${concurrency} | ${ms(direct.p50)} / ${ms(direct.p99)} | ${ms(routed.p50)} / ${ms(routed.p99)} | ${ms(routed.p50 - direct.p50)} | ${ms(routed.p99 - direct.p99)} | ${Math.round(direct.rps)} | ${Math.round(routed.rps)} | **${(routed.rps / direct.rps).toFixed(2)}×** | ${ms(bare.p50 - direct.p50)} / ${ms(bare.p99 - direct.p99)}, ${(bare.rps / direct.rps).toFixed(2)}× | **${(routed.rps / bare.rps).toFixed(2)}×** | ${ms(sdk.p50 - direct.p50)} / ${ms(sdk.p99 - direct.p99)}, ${(sdk.rps / bare.rps).toFixed(2)}× | ${us(routed.serverCpuUs)} / ${us(sdk.serverCpuUs)} / ${us(bare.serverCpuUs)} |`,
    ),
    '',
    ...streamTable(streams),
    '',
    '| bundle (as synthesized) | size | NODE_OPTIONS (as deployed) | import (cold start, median of 7) |',
    '|---|---:|---|---:|',
    ...built.map(
      (b) =>
        `| ${b.name} | ${(b.bytes / 1024).toFixed(0)} KiB | ${b.nodeOptions ? `\`${b.nodeOptions}\`` : 'none'} | ${b.importMs.toFixed(0)} ms |`,
    ),
    '',
    'handleMessage end to end (inbound queue → handler → Postgres → complete → fake provider (0 ms) → replies queue):',
    '',
    '| messages | conversations | batch size | pollers | messages/s | message→reply p50 | p99 |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...flows.map(
      (f) =>
        `| ${f.messages} | ${f.conversations} | ${f.batchSize} | ${f.concurrency} | ${f.perSecond.toFixed(0)} | ${f.p50.toFixed(0)} ms | ${f.p99.toFixed(0)} ms |`,
    ),
  ];
  return lines.join('\n');
}

async function main() {
  say('Konstruct benchmark — complete router overhead, cold start, bundle size');
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      stopChildren(); // the runtime child stops its own Postgres and SQS emulator
      process.exit(130);
    });
  }
  try {
    const built = ONLY_COMPLETE ? [] : await bundles();
    const rows = await overhead();
    const streams = await streaming();
    const flows: PipelineFigures[] = [];
    for (const setting of ONLY_COMPLETE
      ? []
      : [
          { messages: 1000, conversations: 100, batchSize: 5, concurrency: 4 },
          { messages: 1000, conversations: 100, batchSize: 10, concurrency: 8 },
        ]) {
      process.stdout.write(
        `• handleMessage: ${setting.messages} messages, ${setting.conversations} conversations, batch ${setting.batchSize}, ${setting.concurrency} pollers… `,
      );
      const figures = await measurePipeline(setting);
      say(`${figures.perSecond.toFixed(0)} messages/s`);
      flows.push(figures);
    }
    const result = table(rows, built, flows, streams);
    if (ONLY_COMPLETE) {
      say(`\n${result}`);
      return;
    }
    mkdirSync(join(ROOT, 'bench', 'results'), { recursive: true });
    writeFileSync(join(ROOT, 'bench', 'results', 'latest.md'), `${result}\n`);
    say(`\n${result}\n\n(written to bench/results/latest.md)`);
  } finally {
    stopChildren();
  }
}

await main();
