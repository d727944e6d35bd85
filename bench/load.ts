// A closed-loop HTTP load generator with microsecond latencies (autocannon's histogram stops at 1 ms).
import { Agent, request } from 'node:http';

export interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
}

export interface LoadOptions {
  url: string;
  body: string;
  concurrency: number;
  durationMs: number;
  warmupMs?: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** `concurrency` workers each send one POST at a time over keep-alive connections for `durationMs`. */
export async function runLoad({ url, body, concurrency, durationMs, warmupMs = 500 }: LoadOptions): Promise<LoadResult> {
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
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    rps: latencies.length / (durationMs / 1000),
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}
