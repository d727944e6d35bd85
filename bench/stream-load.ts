// Closed-loop load of streamed chat completions: `concurrency` clients each read one server-sent-event
// stream at a time and time its first content chunk and its end, so the router's cost shows where a
// chat product feels it (time to first token) and over a whole answer (last token, chunks per second).
import { Agent, request } from 'node:http';

export interface StreamLoadResult {
  streams: number;
  errors: number;
  /** Time to the first content chunk, p50 / p99, ms. */
  ttftP50: number;
  ttftP99: number;
  /** Time to the last chunk (`[DONE]` or the end), p50 / p99, ms. */
  lastP50: number;
  lastP99: number;
  /** Content chunks received per second over the measured run. */
  chunksPerSecond: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** A chunk that carries content (the role chunk's empty `content` does not count). */
const CONTENT_DELTA = /"content":"[^"]/;

/** One streamed request: when its first content chunk and its end arrived, and how many content chunks. */
function readStream(
  url: URL,
  payload: Buffer,
  agent: Agent,
): Promise<{ ok: boolean; first: number; last: number; chunks: number }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    let first = NaN;
    let chunks = 0;
    let pending = '';
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': String(payload.length) },
      },
      (res) => {
        res.setEncoding('utf8');
        res.on('data', (text: string) => {
          pending += text;
          let end: number;
          while ((end = pending.indexOf('\n\n')) >= 0) {
            const event = pending.slice(0, end);
            pending = pending.slice(end + 2);
            // A content delta, as OpenAI and `complete` write it.
            if (CONTENT_DELTA.test(event)) {
              chunks++;
              if (Number.isNaN(first)) first = performance.now() - t0;
            }
          }
        });
        res.on('end', () =>
          resolve({ ok: res.statusCode === 200 && chunks > 0, first, last: performance.now() - t0, chunks }),
        );
      },
    );
    req.on('error', () => resolve({ ok: false, first, last: performance.now() - t0, chunks }));
    req.end(payload);
  });
}

export async function runStreamLoad(options: {
  url: string;
  body: string;
  concurrency: number;
  durationMs: number;
  warmupMs?: number;
}): Promise<StreamLoadResult> {
  const url = new URL(options.url);
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const payload = Buffer.from(options.body);
  const started = performance.now();
  const measureFrom = started + (options.warmupMs ?? 1_000);
  const end = measureFrom + options.durationMs;
  const ttft: number[] = [];
  const last: number[] = [];
  let chunks = 0;
  let errors = 0;
  async function worker() {
    while (performance.now() < end) {
      const t0 = performance.now();
      const stream = await readStream(url, payload, agent);
      if (t0 < measureFrom) continue;
      if (!stream.ok) {
        errors++;
        continue;
      }
      ttft.push(stream.first);
      last.push(stream.last);
      chunks += stream.chunks;
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  const measuredMs = performance.now() - measureFrom;
  agent.destroy();
  ttft.sort((a, b) => a - b);
  last.sort((a, b) => a - b);
  return {
    streams: ttft.length,
    errors,
    ttftP50: percentile(ttft, 50),
    ttftP99: percentile(ttft, 99),
    lastP50: percentile(last, 50),
    lastP99: percentile(last, 99),
    chunksPerSecond: (chunks * 1000) / measuredMs,
  };
}
