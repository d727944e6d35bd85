// What the benchmark's parts share: where it writes, how long and how often it measures, and its child processes.
import { spawn, type ChildProcess } from 'node:child_process';
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
