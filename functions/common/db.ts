// Postgres: one small pool per cold start, and `withTenant`, the only way the app reads or writes tenant data.
import pg from 'pg';
import type { SecretReader } from './secrets.ts';

export type Pool = pg.Pool;
export type Tx = pg.PoolClient;

/** A database problem worth retrying (unreachable, restarting, too many connections). */
export class DatabaseUnavailableError extends Error {
  override name = 'DatabaseUnavailableError';
}

export interface PoolOptions {
  /** Connections per pool; Lambda runs one batch at a time, so a few suffice. @default 3 */
  max?: number;
  onError?: (err: Error) => void;
}

export function createPool(config: pg.PoolConfig, options: PoolOptions = {}): Pool {
  const pool = new pg.Pool({
    max: options.max ?? 3,
    idleTimeoutMillis: 30_000,
    connectionTimeoutMillis: 5_000,
    // Lambda freezes between invocations; keep-alive notices connections that died meanwhile.
    keepAlive: true,
    ...config,
  });
  // A connection that dies while idle (database restart, proxy timeout) emits here; without a
  // listener it would crash the process. The pool drops it and opens a new one on the next query.
  pool.on('error', (err) => options.onError?.(err));
  // While a client is checked out the pool does not listen to it, and a FATAL or a reset between two
  // queries is an 'error' event that would crash the process. The query in flight, or the next one,
  // fails with it instead (the record in hand fails transiently), and the pool drops the client on release.
  pool.on('connect', (client) => client.on('error', ignoreConnectionError));
  return pool;
}

/** The error listener of every client: the failure reaches the caller through its query, not as an event. */
function ignoreConnectionError(): void {}

/** A single connection (migrations, seeding) whose loss fails its current or next query instead of crashing the process. */
export async function connectClient(config: pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(config);
  client.on('error', ignoreConnectionError);
  await client.connect();
  return client;
}

/** Connection settings: `DATABASE_URL`, or the RDS secret `DATABASE_SECRET_ARN` with `DATABASE_HOST` (the RDS Proxy endpoint), TLS verified. */
export async function databaseConfig(env: NodeJS.ProcessEnv, secrets?: SecretReader): Promise<pg.PoolConfig> {
  if (env.DATABASE_URL) return { connectionString: env.DATABASE_URL };
  const arn = env.DATABASE_SECRET_ARN;
  if (!arn || !secrets)
    throw new Error('Set DATABASE_URL, or DATABASE_SECRET_ARN with DATABASE_HOST (the RDS Proxy endpoint).');
  const secret = await secrets.readJson(arn);
  return {
    host: env.DATABASE_HOST || String(secret.host),
    port: Number(env.DATABASE_PORT || secret.port || 5432),
    user: String(secret.username),
    // Read again (through the reader's cache) for each new connection: after a rotation, new connections
    // use the new password without a cold start.
    password: async () => String((await secrets.readJson(arn)).password),
    database: String(env.DATABASE_NAME || secret.dbname || 'postgres'),
    ssl: env.DATABASE_TLS === 'off' ? false : { rejectUnauthorized: true },
  };
}

/** Errors that mean "try again later", as opposed to a bug or bad data. */
export function isTransientDatabaseError(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  if (err instanceof DatabaseUnavailableError) return true;
  const code = e?.code ?? '';
  return (
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      'ENOTFOUND',
      'EAI_AGAIN',
      '57P01',
      '57P02',
      '57P03',
      '53300',
      '40001',
      '40P01',
    ].includes(code) ||
    code.startsWith('08') ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(
      e?.message ?? '',
    )
  );
}

/**
 * Runs `fn` in a transaction as `konstruct_app` with `app.current_tenant` set, so row-level security
 * — not a WHERE clause — keeps tenants apart. The tenant id must already be a validated UUID.
 */
export async function withTenant<T>(pool: Pool, tenantId: string, fn: (tx: Tx) => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (err) {
    throw new DatabaseUnavailableError(
      `cannot connect to the database (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      { cause: err },
    );
  }
  let broken = false;
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL ROLE konstruct_app');
    await client.query("SELECT set_config('app.current_tenant', $1, true)", [tenantId]);
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    broken = isTransientDatabaseError(err);
    await client.query('ROLLBACK').catch(() => (broken = true));
    throw err;
  } finally {
    // A connection that failed mid-transaction is discarded, never handed to the next record.
    client.release(broken);
  }
}
