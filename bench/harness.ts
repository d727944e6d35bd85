// What the benchmark's parts share: where it writes, how long and how often it measures, and its child processes.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const OUT = join(ROOT, 'dist', 'bench');
export const DURATION_MS = Number(process.env.BENCH_DURATION_MS ?? 3_000);
export const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const children: ChildProcess[] = [];

export const say = (line: string) => process.stdout.write(`${line}\n`);

/** Starts a child and resolves with the first line matching `pattern`; keeps draining its output after. */
export function startChild(
  args: string[],
  env: Record<string, string>,
  pattern: RegExp,
): Promise<string> & { pid: number | undefined } {
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  const started = new Promise<string>((resolve, reject) => {
    let seen = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      if (seen === null) return;
      seen += chunk.toString();
      const match = seen.match(pattern);
      if (match) {
        resolve(match[1]!);
        seen = null as unknown as string;
      }
    });
    child.stderr!.on('data', () => {});
    child.on('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${seen}`)));
  });
  return Object.assign(started, { pid: child.pid });
}

export function stopChildren() {
  for (const child of children.splice(0)) child.kill('SIGTERM');
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

export const ms = (v: number) => v.toFixed(2);
export const us = (v: number) => (Number.isFinite(v) ? v.toFixed(0) : '–');

/**
 * The local runtime routing group `bench` to one deployment at `upstream` (a one-deployment group, so
 * latency routing cannot steer around a delay), with its own state folder and SQS emulator so a
 * developer's running `npm start` is left alone. Resolves with its URL; `pid` is its process.
 */
export function startRuntime(upstream: string): Promise<string> & { pid: number | undefined } {
  mkdirSync(OUT, { recursive: true });
  const config = join(OUT, 'bench-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      model_list: [
        {
          model_name: 'bench',
          litellm_params: { model: 'openai/gpt-4o', api_base: upstream, api_key: 'os.environ/BENCH_KEY' },
        },
      ],
    }),
  );
  return startChild(
    ['local/start.ts'],
    {
      LLM_CONFIG: config,
      BENCH_KEY: 'sk-bench',
      PORT: '0',
      SQS_PORT: '0',
      AWS_ENDPOINT_URL: '',
      KONSTRUCT_STATE_DIR: join(OUT, 'state'),
      DATABASE_URL: '',
    },
    /ready — complete at (http:\/\/\S+)/,
  );
}
