// The migrations as RDS runs them: its master login is no superuser (CREATEROLE, CREATEDB and owner of the
// database), on a Postgres of this file's own where none of the roles exist yet, as on a new Aurora.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from '../../functions/common/db.ts';
import { startPostgres, type RunningPostgres } from '../../local/postgres.ts';
import { setHandlerPassword } from '../../migrations/handler-login.ts';
import { migrate, migrationFiles } from '../../migrations/migrate.ts';

const dir = mkdtempSync(join(tmpdir(), 'konstruct-rds-master-pg-'));
chmodSync(dir, 0o755);
let postgres: RunningPostgres;
let master: pg.Client;
beforeAll(async () => {
  postgres = await startPostgres(dir, { persistent: false });
  const superuser = await connectClient({ connectionString: postgres.url });
  try {
    await superuser.query(`CREATE ROLE rds_master LOGIN CREATEROLE CREATEDB PASSWORD 'rds-master-password'`);
    await superuser.query('CREATE DATABASE rds_app OWNER rds_master');
  } finally {
    await superuser.end();
  }
  const url = new URL(postgres.url);
  url.username = 'rds_master';
  url.password = 'rds-master-password';
  url.pathname = '/rds_app';
  master = await connectClient({ connectionString: url.toString() });
}, 60_000);
afterAll(async () => {
  await master?.end();
  await postgres?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('migrations run by a master login that is not a superuser', () => {
  it('apply every migration on a new database, then set the application login password', async () => {
    const applied = await migrate(master);
    expect(applied).toEqual(migrationFiles().map((m) => m.name));
    await setHandlerPassword(master, { username: 'konstruct_handler', password: 'Handler-Password-0001' });
    const { rows } = await master.query<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean }>(
      "SELECT rolname, rolsuper, rolbypassrls FROM pg_roles WHERE rolname IN ('konstruct_app', 'konstruct_handler') ORDER BY rolname",
    );
    expect(rows).toEqual([
      { rolname: 'konstruct_app', rolsuper: false, rolbypassrls: false },
      { rolname: 'konstruct_handler', rolsuper: false, rolbypassrls: false },
    ]);
  });

  it('can run each migration again on what it already made (a deploy after a half-applied one)', async () => {
    for (const m of migrationFiles()) {
      await master.query('BEGIN');
      try {
        await expect(master.query(m.sql), m.name).resolves.toBeDefined();
      } finally {
        await master.query('ROLLBACK');
      }
    }
  });
});
