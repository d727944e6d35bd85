// Closed-loop HTTP load: wrk (C, from Debian's `wrk` package) when installed, else a Node loader.
// Both report microsecond latencies (autocannon's histogram stops at 1 ms); wrk takes far less CPU
// from the 2 cores that the runtime and the fake provider also need, so it is preferred.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  /** CPU (user + system) the `server` process spent per request during the measured run, in µs; NaN when unknown. */
  serverCpuUs: number;
}

export interface LoadOptions {
  url: string;
  body: string;
  concurrency: number;
  durationMs: number;
  warmupMs?: number;
  /** The process answering `url`, whose CPU per request is measured (Linux: /proc). */
  server?: number;
}

/** A process's CPU time so far in µs (user + system), from /proc; NaN where there is none. */
function cpuTimeUs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    // utime and stime, in clock ticks (USER_HZ is 100 on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return NaN;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const LOADER: 'wrk' | 'node' =
  process.env.BENCH_LOADER === 'node' || spawnSync('wrk', ['--version']).error ? 'node' : 'wrk';

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  return LOADER === 'wrk' ? runWrk(options) : runNodeLoad(options);
}

function wrkMs(text: string, label: string): number {
  const match = text.match(new RegExp(`^\\s*${label}\\s+([\\d.]+)(us|ms|s)\\b`, 'm'));
  if (!match) return NaN;
  const value = Number(match[1]);
  return match[2] === 'us' ? value / 1000 : match[2] === 's' ? value * 1000 : value;
}

function runWrk({ url, body, concurrency, durationMs, warmupMs = 1_000, server }: LoadOptions): LoadResult {
  const dir = mkdtempSync(join(tmpdir(), 'konstruct-wrk-'));
  const script = join(dir, 'post.lua');
  writeFileSync(
    script,
    `wrk.method = "POST"\nwrk.headers["content-type"] = "application/json"\nwrk.body = ${JSON.stringify(body)}\n`,
  );
  const args = (ms: number) => [
    '-t1',
    `-c${concurrency}`,
    `-d${Math.max(1, Math.round(ms / 1000))}s`,
    '--latency',
    '-s',
    script,
    url,
  ];
  spawnSync('wrk', args(warmupMs), { encoding: 'utf8' });
  const cpuBefore = cpuTimeUs(server);
  const run = spawnSync('wrk', args(durationMs), { encoding: 'utf8' });
  const cpuUs = cpuTimeUs(server) - cpuBefore;
  if (run.status !== 0) throw new Error(`wrk failed: ${run.stderr}`);
  const out = run.stdout;
  const requests = Number(out.match(/(\d+) requests in/)?.[1] ?? 0);
  const errors =
    Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0) +
    Number(out.match(/Socket errors:.*?timeout (\d+)/)?.[1] ?? 0);
  return {
    requests,
    errors,
    rps: Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? 0),
    p50: wrkMs(out, '50%'),
    p99: wrkMs(out, '99%'),
    serverCpuUs: cpuUs / requests,
  };
}

/** `concurrency` workers each send one POST at a time over keep-alive connections for `durationMs`. */
async function runNodeLoad({
  url,
  body,
  concurrency,
  durationMs,
  warmupMs = 500,
  server,
}: LoadOptions): Promise<LoadResult> {
  const target = new URL(url);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const payload = Buffer.from(body);
  const headers = { 'content-type': 'application/json', 'content-length': String(payload.length) };
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const measureFrom = started + warmupMs;
  const end = measureFrom + durationMs;

  const once = () =>
    new Promise<number>((resolve) => {
      const req = request(
        { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent, headers },
        (res) => {
          res.on('data', () => {});
          res.on('end', () => resolve(res.statusCode ?? 0));
        },
      );
      req.on('error', () => resolve(0));
      req.end(payload);
    });

  let cpuBefore = NaN;
  setTimeout(() => (cpuBefore = cpuTimeUs(server)), warmupMs);
  async function worker() {
    while (performance.now() < end) {
      const t0 = performance.now();
      const status = await once();
      const t1 = performance.now();
      if (t0 < measureFrom) continue;
      if (status === 200) latencies.push(t1 - t0);
      else errors++;
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  const cpuUs = cpuTimeUs(server) - cpuBefore;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    rps: latencies.length / (durationMs / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    serverCpuUs: cpuUs / (latencies.length + errors),
  };
}
