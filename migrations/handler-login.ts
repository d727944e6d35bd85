// The application's login, konstruct_handler: its password set from the application's secret as a SCRAM
// verifier (the plaintext never appears in a SQL statement, so never in a statement log).
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import type { ClientBase } from 'pg';

/** The only role this step ever alters: a secret naming another could otherwise take over any login. */
export const HANDLER_ROLE = 'konstruct_handler';
const ITERATIONS = 4096;

/** The application's secret does not fit: the message says what to change, never the secret's value. */
export class HandlerSecretError extends Error {
  override name = 'HandlerSecretError';
}

/**
 * A Postgres SCRAM-SHA-256 verifier (RFC 5802/7677), as `ALTER ROLE … PASSWORD` stores it. Postgres applies
 * SASLprep only to non-ASCII passwords, so ASCII ones (every generated secret) hash byte for byte.
 */
export function scramSha256Verifier(password: string, salt: Buffer = randomBytes(16)): string {
  const salted = pbkdf2Sync(Buffer.from(password, 'utf8'), salt, ITERATIONS, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${ITERATIONS}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/** Sets konstruct_handler's password (and LOGIN) from the application's secret `{ username, password }`. */
export async function setHandlerPassword(client: ClientBase, secret: Record<string, unknown>): Promise<void> {
  if (secret.username !== HANDLER_ROLE) {
    throw new HandlerSecretError(
      `the application's database secret must have "username": "${HANDLER_ROLE}" (the login the migrations create); fix the secret's username.`,
    );
  }
  const password = secret.password;
  // Non-ASCII would go through SASLprep on the server, which Node does not implement: refuse rather than lock out.
  if (typeof password !== 'string' || !/^[\x21-\x7e]{12,}$/.test(password)) {
    throw new HandlerSecretError(
      `the application's database secret needs a "password" of at least 12 printable ASCII characters without spaces; set a new one.`,
    );
  }
  // A verifier is base64, digits, `$` and `:` only: safe inside a literal (utility statements take no parameters).
  await client.query(`ALTER ROLE ${HANDLER_ROLE} WITH LOGIN PASSWORD '${scramSha256Verifier(password)}'`);
}

export interface ConnectedTo {
  host: string;
  port: number;
  database: string;
}

/**
 * The application's secret with `host`, `port` and `dbname` filled in from the connection the migrations used,
 * so that the handler, reading only its own secret, reaches the same database; undefined when none is missing.
 */
export function completedHandlerSecret(
  secret: Record<string, unknown>,
  connected: ConnectedTo,
): Record<string, unknown> | undefined {
  const missing = (key: string) => secret[key] === undefined || secret[key] === null || secret[key] === '';
  if (!['host', 'port', 'dbname'].some(missing)) return undefined;
  return {
    ...secret,
    ...(missing('host') && { host: connected.host }),
    ...(missing('port') && { port: connected.port }),
    ...(missing('dbname') && { dbname: connected.database }),
  };
}

/** Where a client configuration connects: its host, port and database, from fields or a connection URL. */
export function connectedTo(config: { connectionString?: string; host?: string; port?: number; database?: string }) {
  const url = config.connectionString ? new URL(config.connectionString) : undefined;
  return {
    host: url ? decodeURIComponent(url.hostname) : String(config.host),
    port: Number(url ? url.port || 5432 : (config.port ?? 5432)),
    database: url ? decodeURIComponent(url.pathname.slice(1)) || 'postgres' : String(config.database ?? 'postgres'),
  } satisfies ConnectedTo;
}

/** The application's secret, read fresh (a rotation may have changed it) and written back when completed. */
export interface HandlerSecretStore {
  read(): Promise<Record<string, unknown>>;
  write(value: Record<string, unknown>): Promise<void>;
}

/** The migration step's last part: konstruct_handler's password from its secret, and the secret completed. */
export async function applyHandlerSecret(
  client: ClientBase,
  store: HandlerSecretStore,
  connected: ConnectedTo,
): Promise<{ completed: boolean }> {
  const secret = await store.read();
  await setHandlerPassword(client, secret);
  const completed = completedHandlerSecret(secret, connected);
  if (completed) await store.write(completed);
  return { completed: completed !== undefined };
}
