// The application's login cannot leave row-level security: logged in as konstruct_handler, no statement it can
// issue (RESET ROLE, SET ROLE, row_security = off, ALTER TABLE) reaches another tenant's rows.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from '../../functions/common/db.ts';
import { migrationFiles } from '../../migrations/migrate.ts';
import { setHandlerPassword } from '../../migrations/handler-login.ts';
import { createTenant, createTestDatabase, type TestDatabase } from '../helpers/database.ts';

// This file alone sets the password of the run's (cluster-wide) konstruct_handler.
const PASSWORD = 'Handler-Rls-Test-0001';
const TABLES = ['tenants', 'agents', 'conversation_messages', 'message_claims'] as const;

let db: TestDatabase;
let a: { tenantId: string; agentIds: string[] };
let b: { tenantId: string; agentIds: string[] };
beforeAll(async () => {
  db = await createTestDatabase();
  const admin = await db.admin.connect();
  try {
    await setHandlerPassword(admin, { username: 'konstruct_handler', password: PASSWORD });
  } finally {
    admin.release();
  }
  a = await createTenant(db.admin);
  b = await createTenant(db.admin);
  for (const t of [a, b]) {
    await db.admin.query(
      `INSERT INTO conversation_messages (id, tenant_id, conversation_key, role, content, source_message_id, channel)
       VALUES (gen_random_uuid(), $1, 'k', 'user', 'hello', 'm-1', 'slack')`,
      [t.tenantId],
    );
    await db.admin.query(`INSERT INTO message_claims VALUES ($1, 'm-1', 'sqs-1', now())`, [t.tenantId]);
  }
});
afterAll(async () => {
  await db?.drop();
});

const superuser = () => new URL(db.url).username;

/** A session logged in as konstruct_handler, as handleMessage's is in AWS; `tenant` set for the session. */
async function asHandler<T>(tenant: string | undefined, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const url = new URL(db.url);
  url.username = 'konstruct_handler';
  url.password = PASSWORD;
  const client = await connectClient({ connectionString: url.toString() });
  try {
    if (tenant !== undefined) await client.query("SELECT set_config('app.current_tenant', $1, false)", [tenant]);
    return await fn(client);
  } finally {
    await client.end();
  }
}

const tenantsIn = async (client: pg.Client, table: string) =>
  (await client.query<{ t: string }>(`SELECT ${table === 'tenants' ? 'id' : 'tenant_id'} AS t FROM ${table}`)).rows.map(
    (r) => r.t,
  );

describe('the konstruct_handler login', () => {
  it('is a member of konstruct_app only, with no superuser, createrole, createdb, replication or BYPASSRLS', async () => {
    const { rows } = await db.admin.query(
      `SELECT r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
              ARRAY(SELECT m.roleid::regrole::text FROM pg_auth_members m WHERE m.member = r.oid) AS member_of
         FROM pg_roles r WHERE r.rolname = 'konstruct_handler'`,
    );
    expect(rows).toEqual([
      {
        rolcanlogin: true,
        rolsuper: false,
        rolcreaterole: false,
        rolcreatedb: false,
        rolreplication: false,
        rolbypassrls: false,
        member_of: ['konstruct_app'],
      },
    ]);
  });

  it("sees only its tenant's rows after RESET ROLE and SET ROLE NONE, in every table", async () => {
    await asHandler(a.tenantId, async (client) => {
      for (const leave of ['RESET ROLE', 'SET ROLE NONE']) {
        await client.query(leave);
        expect((await client.query('SELECT current_user AS u')).rows[0].u).toBe('konstruct_handler');
        for (const table of TABLES) expect([table, await tenantsIn(client, table)]).toEqual([table, [a.tenantId]]);
      }
    });
  });

  it('sees zero rows, and no error, with no tenant set', async () => {
    await asHandler(undefined, async (client) => {
      await client.query('RESET ROLE');
      for (const table of TABLES) expect([table, await tenantsIn(client, table)]).toEqual([table, []]);
    });
  });

  it('cannot SET ROLE to the superuser that ran the migrations', async () => {
    await asHandler(a.tenantId, async (client) => {
      await expect(client.query(`SET ROLE ${superuser()}`)).rejects.toThrow(/permission denied to set role/);
    });
  });

  it('cannot turn row_security off: every read of a table under RLS then fails', async () => {
    await asHandler(a.tenantId, async (client) => {
      await client.query('SET row_security = off');
      for (const table of TABLES) await expect(tenantsIn(client, table)).rejects.toThrow(/row-level security/);
    });
  });

  it('cannot disable or drop row-level security, nor its policies', async () => {
    await asHandler(a.tenantId, async (client) => {
      for (const table of TABLES) {
        await expect(client.query(`ALTER TABLE ${table} DISABLE ROW LEVEL SECURITY`)).rejects.toThrow(/must be owner/);
        await expect(client.query(`ALTER TABLE ${table} NO FORCE ROW LEVEL SECURITY`)).rejects.toThrow(/must be owner/);
        await expect(client.query(`DROP POLICY tenant_isolation ON ${table}`)).rejects.toThrow(/must be owner/);
      }
    });
  });

  it("cannot write another tenant's rows, nor change or delete its own beyond the app's grants", async () => {
    await asHandler(a.tenantId, async (client) => {
      await client.query('RESET ROLE');
      await expect(
        client.query(
          `INSERT INTO conversation_messages (id, tenant_id, conversation_key, role, content, source_message_id, channel)
           VALUES (gen_random_uuid(), $1, 'k', 'user', 'x', 'm-2', 'slack')`,
          [b.tenantId],
        ),
      ).rejects.toThrow(/row-level security/);
      await expect(
        client.query(`INSERT INTO message_claims VALUES ($1, 'm-2', 's', now())`, [b.tenantId]),
      ).rejects.toThrow(/row-level security/);
      const moved = await client.query(`UPDATE message_claims SET holder_sqs_message_id = 'x' WHERE tenant_id = $1`, [
        b.tenantId,
      ]);
      expect(moved.rowCount).toBe(0);
      await expect(client.query('DELETE FROM conversation_messages')).rejects.toThrow(/permission denied/);
    });
    const { rows } = await db.admin.query(
      `SELECT holder_sqs_message_id AS h FROM message_claims WHERE tenant_id = $1`,
      [b.tenantId],
    );
    expect(rows).toEqual([{ h: 'sqs-1' }]);
  });

  it('loses any other membership when the migration runs again', async () => {
    await db.admin.query('DROP ROLE IF EXISTS konstruct_extra_probe');
    await db.admin.query('CREATE ROLE konstruct_extra_probe NOLOGIN');
    try {
      await db.admin.query('GRANT konstruct_extra_probe, pg_read_all_data TO konstruct_handler');
      await db.admin.query(migrationFiles().find((m) => m.name === '004_handler_login.sql')!.sql);
      const { rows } = await db.admin.query(
        `SELECT m.roleid::regrole::text AS role FROM pg_auth_members m WHERE m.member = 'konstruct_handler'::regrole`,
      );
      expect(rows).toEqual([{ role: 'konstruct_app' }]);
    } finally {
      await db.admin.query('DROP ROLE IF EXISTS konstruct_extra_probe');
    }
  });
});
