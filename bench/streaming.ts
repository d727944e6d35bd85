// The streamed rows of `npm run bench`: answers of 50 tokens 20 ms apart, directly, through the bare proxy
// and through `complete`'s `/v1/chat/completions`.
import { DURATION_MS, ROUNDS, median, ms, say, startChild, startRuntime, stopChildren } from './harness.ts';
import { runStreamLoad, type StreamLoadResult } from './stream-load.ts';

const STREAM_PIECES = 50;
const STREAM_EVERY_MS = 20;
const STREAM_CONCURRENCY = Number(process.env.BENCH_STREAM_CONCURRENCY ?? 16);

export interface StreamRows {
  direct: StreamLoadResult;
  bare: StreamLoadResult;
  routed: StreamLoadResult;
}

/** Streamed answers (50 tokens 20 ms apart) directly, through the bare proxy and through `complete`'s OpenAI API. */
export async function streaming(): Promise<StreamRows> {
  const fakeUrl = await startChild(
    ['bench/fake-upstream.ts'],
    { DELAY_MS: '0', STREAM_PIECES: String(STREAM_PIECES), STREAM_EVERY_MS: String(STREAM_EVERY_MS) },
    /^(http\S+)$/m,
  );
  const bareUrl = await startChild(
    ['bench/bare-proxy.ts'],
    { UPSTREAM: `${fakeUrl}/chat/completions` },
    /^(http\S+)$/m,
  );
  const runtimeUrl = await startRuntime(fakeUrl);
  const messages = [{ role: 'user', content: 'Hello, how are you today?' }];
  const direct = JSON.stringify({ model: 'gpt-4o', messages, stream: true, stream_options: { include_usage: true } });
  const routed = JSON.stringify({
    model: 'bench',
    user: 'bench',
    messages,
    stream: true,
    stream_options: { include_usage: true },
  });
  process.stdout.write(
    `• streaming: ${STREAM_PIECES} tokens ${STREAM_EVERY_MS} ms apart, concurrency ${STREAM_CONCURRENCY}, ${ROUNDS} rounds of direct / bare proxy / through complete: `,
  );
  const runs = { direct: [] as StreamLoadResult[], bare: [] as StreamLoadResult[], routed: [] as StreamLoadResult[] };
  const load = (url: string, body: string) =>
    runStreamLoad({ url, body, concurrency: STREAM_CONCURRENCY, durationMs: Math.max(DURATION_MS, 3_000) });
  for (let round = 0; round < ROUNDS; round++) {
    runs.direct.push(await load(`${fakeUrl}/chat/completions`, direct));
    runs.bare.push(await load(bareUrl, direct));
    runs.routed.push(await load(`${runtimeUrl}/v1/chat/completions`, routed));
    process.stdout.write(`${round + 1} `);
  }
  stopChildren();
  const pick = (results: StreamLoadResult[]): StreamLoadResult => ({
    streams: median(results.map((r) => r.streams)),
    errors: results.reduce((sum, r) => sum + r.errors, 0),
    ttftP50: median(results.map((r) => r.ttftP50)),
    ttftP99: median(results.map((r) => r.ttftP99)),
    lastP50: median(results.map((r) => r.lastP50)),
    lastP99: median(results.map((r) => r.lastP99)),
    chunksPerSecond: median(results.map((r) => r.chunksPerSecond)),
  });
  const rows = { direct: pick(runs.direct), bare: pick(runs.bare), routed: pick(runs.routed) };
  say(
    `— time to first token added ${ms(rows.routed.ttftP50 - rows.direct.ttftP50)} ms p50` +
      `${rows.routed.errors + rows.bare.errors + rows.direct.errors ? ` (${rows.routed.errors + rows.bare.errors + rows.direct.errors} errors)` : ''}`,
  );
  return rows;
}

export function streamTable({ direct, bare, routed }: StreamRows): string[] {
  const row = (name: string, r: StreamLoadResult) =>
    `| ${name} | ${ms(r.ttftP50)} / ${ms(r.ttftP99)} | ${ms(r.ttftP50 - direct.ttftP50)} | ${ms(r.lastP50)} / ${ms(r.lastP99)} | ${ms(r.lastP50 - direct.lastP50)} | ${Math.round(r.chunksPerSecond)} | ${(r.chunksPerSecond / bare.chunksPerSecond).toFixed(2)}× |`;
  return [
    `Streaming (\`stream: true\`, \`include_usage\`): the fake provider sends ${STREAM_PIECES} tokens ${STREAM_EVERY_MS} ms apart; ${STREAM_CONCURRENCY} clients each read one stream at a time; medians of ${ROUNDS} interleaved runs.`,
    '',
    '| streamed through | first token p50 / p99 (ms) | added p50 | last token p50 / p99 (ms) | added p50 | content chunks/s | ratio to bare proxy |',
    '|---|---:|---:|---:|---:|---:|---:|',
    row('direct (the fake provider)', direct),
    row('bare `node:http` proxy', bare),
    row('`complete` (`/v1/chat/completions`)', routed),
  ];
}
