// The application's login: its password set as a SCRAM verifier from its own secret by the migration step,
// against a Postgres of this file's own that checks logins with SCRAM (as RDS does).
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import type pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, databaseConfig } from '../../functions/common/db.ts';
import { secretsManagerReader } from '../../functions/common/secrets.ts';
import { handler as migrationStep } from '../../functions/migrate/handler.ts';
import { scramSha256Verifier, setHandlerPassword } from '../../migrations/handler-login.ts';
import { migrate } from '../../migrations/migrate.ts';
import { startPostgres, type RunningPostgres } from '../../local/postgres.ts';
import { FakeSecretsManager } from '../fakes/secrets-manager.ts';

const MASTER_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:konstruct/master-AbCdEf';
const HANDLER_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:konstruct/handler-GhIjKl';

// Its own Postgres: the login role is cluster-wide, and the run's shared one checks plain passwords only.
const dir = mkdtempSync(join(tmpdir(), 'konstruct-scram-pg-'));
chmodSync(dir, 0o755);
let postgres: RunningPostgres;
let admin: pg.Client;
let secrets: FakeSecretsManager;
beforeAll(async () => {
  postgres = await startPostgres(dir, { persistent: false, authMethod: 'scram-sha-256' });
  admin = await connectClient({ connectionString: postgres.url });
  await migrate(admin);
  secrets = await new FakeSecretsManager().start();
}, 60_000);
afterAll(async () => {
  await secrets?.stop();
  await admin?.end();
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

/** Logs in over TCP with SCRAM as `user`; resolves to the session's user, or rejects as Postgres refused. */
async function logIn(user: string, password: string): Promise<string> {
  const url = new URL(postgres.url);
  const client = await connectClient({
    host: url.hostname,
    port: postgres.port,
    database: 'konstruct',
    user,
    password,
  });
  try {
    return (await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
  } finally {
    await client.end();
  }
}

describe('the SCRAM-SHA-256 verifier', () => {
  it('lets Postgres accept a SCRAM login with the password and refuse a wrong one', async () => {
    await admin.query(`DROP ROLE IF EXISTS scram_probe`);
    await admin.query(`CREATE ROLE scram_probe LOGIN PASSWORD '${scramSha256Verifier('correct-horse-battery')}'`);
    try {
      expect(await logIn('scram_probe', 'correct-horse-battery')).toBe('scram_probe');
      await expect(logIn('scram_probe', 'correct-horse-batterz')).rejects.toMatchObject({ code: '28P01' });
    } finally {
      await admin.query(`DROP ROLE scram_probe`);
    }
  });

  it('salts each verifier: the same password never gives the same verifier twice', () => {
    expect(scramSha256Verifier('same-password-1')).not.toBe(scramSha256Verifier('same-password-1'));
    expect(scramSha256Verifier('same-password-1')).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[^:]{44}:.{44}$/);
  });
});

describe('setting the application login password', () => {
  it('sets konstruct_handler to log in with the secret password, with no plaintext in the statement', async () => {
    const statements: string[] = [];
    const recording = {
      query: (text: string) => (statements.push(text), admin.query(text)),
    } as unknown as pg.ClientBase;
    await setHandlerPassword(recording, { username: 'konstruct_handler', password: 'Handler-Password-0001' });
    expect(await logIn('konstruct_handler', 'Handler-Password-0001')).toBe('konstruct_handler');
    expect(statements).toHaveLength(1);
    expect(statements[0]).not.toContain('Handler-Password-0001');
    expect(statements[0]).toMatch(/^ALTER ROLE konstruct_handler WITH LOGIN PASSWORD 'SCRAM-SHA-256\$4096:/);
  });

  it('refuses a secret naming any other role, and alters nothing', async () => {
    const master = new URL(postgres.url);
    const attempt = setHandlerPassword(admin, { username: master.username, password: 'Taken-Over-000001' });
    await expect(attempt).rejects.toThrow(/must have "username": "konstruct_handler"/);
    expect(await logIn(master.username, decodeURIComponent(master.password))).toBe(master.username);
    await expect(logIn(master.username, 'Taken-Over-000001')).rejects.toMatchObject({ code: '28P01' });
  });

  it('refuses a short or non-ASCII password with a message that never echoes it', async () => {
    for (const password of ['short', 'Pässwort-Pässwort-1', undefined]) {
      const attempt = setHandlerPassword(admin, { username: 'konstruct_handler', password });
      await expect(attempt).rejects.toThrow(/at least 12 printable ASCII characters/);
      await attempt.catch((err: Error) => expect(err.message).not.toContain(String(password)));
    }
  });
});

describe('the migration step', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });
  const url = () => new URL(postgres.url);
  const run = () =>
    migrationStep({ RequestType: 'Update' } as CloudFormationCustomResourceEvent).then((r) => r.PhysicalResourceId);

  function environment(handlerSecret: Record<string, unknown>) {
    secrets.secrets.set(
      MASTER_ARN,
      JSON.stringify({
        username: url().username,
        password: decodeURIComponent(url().password),
        host: 'cluster-endpoint.invalid',
        port: postgres.port,
        dbname: 'konstruct',
      }),
    );
    secrets.secrets.set(HANDLER_ARN, JSON.stringify(handlerSecret));
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
      DATABASE_SECRET_ARN: MASTER_ARN,
      DATABASE_HOST: '127.0.0.1', // as the stack sets the proxy endpoint (or databaseHost) over the secret's host
      DATABASE_TLS: 'off',
      DATABASE_HANDLER_SECRET_ARN: HANDLER_ARN,
    });
  }

  it('sets the password and completes the secret with the host, port and database it migrated, keeping every field', async () => {
    environment({ username: 'konstruct_handler', password: 'From-The-Secret-0002', engine: 'postgres' });
    secrets.writes.length = 0;
    expect(await run()).toBe('konstruct-migrations');
    expect(secrets.writes.map((w) => [w.arn, JSON.parse(w.value)])).toEqual([
      [
        HANDLER_ARN,
        {
          username: 'konstruct_handler',
          password: 'From-The-Secret-0002',
          engine: 'postgres',
          host: '127.0.0.1',
          port: postgres.port,
          dbname: 'konstruct',
        },
      ],
    ]);
    // The handler, reading only its own secret, reaches the database the migrations ran in.
    const env = { ...process.env, DATABASE_SECRET_ARN: HANDLER_ARN, DATABASE_HOST: '' };
    const client = await connectClient(await databaseConfig(env, secretsManagerReader(env, 0)));
    try {
      expect((await client.query('SELECT current_user AS u')).rows[0].u).toBe('konstruct_handler');
    } finally {
      await client.end();
    }
  });

  it('sets a rotated password again and leaves a complete secret unwritten', async () => {
    const complete = { username: 'konstruct_handler', password: 'Rotated-Value-0003', host: 'h', port: 1, dbname: 'd' };
    environment(complete);
    secrets.writes.length = 0;
    await run();
    expect(secrets.writes).toEqual([]);
    expect(await logIn('konstruct_handler', 'Rotated-Value-0003')).toBe('konstruct_handler');
  });

  it('fails the deploy, with what to fix, when the application secret names another role', async () => {
    environment({ username: url().username, password: 'Not-For-Master-0004' });
    secrets.writes.length = 0;
    await expect(run()).rejects.toThrow(/must have "username": "konstruct_handler"/);
    expect(secrets.writes).toEqual([]);
  });
});
