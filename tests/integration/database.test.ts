// The database contract: migrations applied once and in order, the app role's grants, and RLS enforced.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { withTenant, createPool, type Pool } from '../../functions/common/db.ts';
import { migrate, migrationFiles } from '../../migrations/migrate.ts';
import { createTenant, createTestDatabase, type TestDatabase } from '../helpers/database.ts';

let db: TestDatabase;
let pool: Pool;
beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool({ connectionString: db.url });
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

/** Runs `sql` as konstruct_app inside a transaction, optionally with a tenant set. */
async function asApp<T extends pg.QueryResultRow>(sql: string, params: unknown[] = [], tenant?: string): Promise<T[]> {
  const client = await db.admin.connect();
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL ROLE konstruct_app');
    if (tenant !== undefined) await client.query("SELECT set_config('app.current_tenant', $1, true)", [tenant]);
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.query('ROLLBACK');
    client.release();
  }
}

describe('migrations', () => {
  it('are recorded in order and safe to run twice', async () => {
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      expect(await migrate(client)).toEqual([]); // the template was migrated already
      const { rows } = await client.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name');
      expect(rows.map((r) => r.name)).toEqual(migrationFiles().map((m) => m.name));
      expect(rows.map((r) => r.name)).toEqual([
        '001_schema.sql',
        '002_app_role_and_rls.sql',
        '003_message_claims.sql',
        '004_handler_login.sql',
      ]);
    } finally {
      await client.end();
    }
  });

  it('apply from scratch, then again as a no-op', async () => {
    const admin = new pg.Client({ connectionString: db.url.replace(/\/[^/]+$/, '/postgres') });
    await admin.connect();
    await admin.query('CREATE DATABASE fresh_migrate');
    await admin.end();
    const client = new pg.Client({ connectionString: db.url.replace(/\/[^/]+$/, '/fresh_migrate') });
    await client.connect();
    try {
      expect(await migrate(client)).toEqual([
        '001_schema.sql',
        '002_app_role_and_rls.sql',
        '003_message_claims.sql',
        '004_handler_login.sql',
      ]);
      expect(await migrate(client)).toEqual([]);
      const { rows } = await client.query(
        `SELECT relname, relrowsecurity, relforcerowsecurity FROM pg_class WHERE relname IN ('tenants','agents','conversation_messages','message_claims') ORDER BY relname`,
      );
      expect(rows).toEqual([
        { relname: 'agents', relrowsecurity: true, relforcerowsecurity: true },
        { relname: 'conversation_messages', relrowsecurity: true, relforcerowsecurity: true },
        { relname: 'message_claims', relrowsecurity: true, relforcerowsecurity: true },
        { relname: 'tenants', relrowsecurity: true, relforcerowsecurity: true },
      ]);
    } finally {
      await client.end();
      const cleanup = new pg.Client({ connectionString: db.url.replace(/\/[^/]+$/, '/postgres') });
      await cleanup.connect();
      await cleanup.query('DROP DATABASE fresh_migrate WITH (FORCE)');
      await cleanup.end();
    }
  });
});

describe('the konstruct_app role', () => {
  it('cannot log in and does not bypass RLS', async () => {
    const { rows } = await db.admin.query(
      `SELECT rolcanlogin, rolbypassrls, rolsuper FROM pg_roles WHERE rolname = 'konstruct_app'`,
    );
    expect(rows[0]).toEqual({ rolcanlogin: false, rolbypassrls: false, rolsuper: false });
  });

  it('has exactly SELECT on tenants and agents, SELECT and INSERT on conversation_messages, SELECT, INSERT and UPDATE on message_claims', async () => {
    const { rows } = await db.admin.query(
      `SELECT table_name, string_agg(privilege_type, ',' ORDER BY privilege_type) AS privileges
         FROM information_schema.role_table_grants WHERE grantee = 'konstruct_app' GROUP BY table_name ORDER BY table_name`,
    );
    expect(rows).toEqual([
      { table_name: 'agents', privileges: 'SELECT' },
      { table_name: 'conversation_messages', privileges: 'INSERT,SELECT' },
      { table_name: 'message_claims', privileges: 'INSERT,SELECT,UPDATE' },
      { table_name: 'tenants', privileges: 'SELECT' },
    ]);
  });
});

describe('row-level security', () => {
  it('shows zero rows, and no error, when no tenant is set', async () => {
    await createTenant(db.admin);
    for (const table of ['tenants', 'agents', 'conversation_messages', 'message_claims']) {
      expect(await asApp(`SELECT * FROM ${table}`)).toEqual([]);
      expect(await asApp(`SELECT * FROM ${table}`, [], '')).toEqual([]);
    }
  });

  it("shows a tenant only its own rows, and refuses writes into another tenant's", async () => {
    const a = await createTenant(db.admin);
    const b = await createTenant(db.admin);
    const agents = await asApp<{ id: string }>('SELECT id FROM agents', [], a.tenantId);
    expect(agents.map((r) => r.id)).toEqual(a.agentIds);
    expect(await asApp('SELECT id FROM tenants', [], a.tenantId)).toEqual([{ id: a.tenantId }]);
    await expect(
      asApp(
        `INSERT INTO conversation_messages (id, tenant_id, conversation_key, role, content, source_message_id, channel)
         VALUES (gen_random_uuid(), $1, 'k', 'user', 'x', 'm', 'slack')`,
        [b.tenantId],
        a.tenantId,
      ),
    ).rejects.toThrow(/row-level security/);
  });

  it("keeps message_claims per tenant: a tenant sees and updates only its own claims, never writes another's, and cannot delete", async () => {
    const a = await createTenant(db.admin);
    const b = await createTenant(db.admin);
    for (const t of [a, b])
      await db.admin.query(`INSERT INTO message_claims VALUES ($1, 'm-1', 'sqs-1', now())`, [t.tenantId]);
    expect(await asApp('SELECT tenant_id FROM message_claims', [], a.tenantId)).toEqual([{ tenant_id: a.tenantId }]);
    expect(
      await asApp(`UPDATE message_claims SET holder_sqs_message_id = 'x' RETURNING tenant_id`, [], a.tenantId),
    ).toEqual([{ tenant_id: a.tenantId }]);
    await expect(
      asApp(`INSERT INTO message_claims VALUES ($1, 'm-2', 'sqs-2', now())`, [b.tenantId], a.tenantId),
    ).rejects.toThrow(/row-level security/);
    await expect(asApp('DELETE FROM message_claims', [], a.tenantId)).rejects.toThrow(/permission denied/);
  });

  it('withTenant scopes the app to the tenant and cannot update or delete', async () => {
    const a = await createTenant(db.admin);
    const names = await withTenant(
      pool,
      a.tenantId,
      async (tx) => (await tx.query('SELECT current_user AS u')).rows[0].u,
    );
    expect(names).toBe('konstruct_app');
    await expect(withTenant(pool, a.tenantId, (tx) => tx.query('DELETE FROM agents'))).rejects.toThrow(
      /permission denied/,
    );
    await expect(withTenant(pool, a.tenantId, (tx) => tx.query("UPDATE tenants SET name = 'x'"))).rejects.toThrow(
      /permission denied/,
    );
  });

  it('does not leak the tenant setting to the next transaction on the same connection', async () => {
    const a = await createTenant(db.admin);
    const single = createPool({ connectionString: db.url }, { max: 1 });
    try {
      await withTenant(single, a.tenantId, (tx) => tx.query('SELECT 1'));
      const client = await single.connect();
      try {
        const { rows } = await client.query(
          `SELECT current_user AS u, current_setting('app.current_tenant', true) AS t`,
        );
        expect(rows[0].u).not.toBe('konstruct_app');
        expect(rows[0].t ?? '').toBe('');
      } finally {
        client.release();
      }
    } finally {
      await single.end();
    }
  });

  it('a checked-out client whose backend is terminated between two queries fails the next query, not the process', async () => {
    const a = await createTenant(db.admin);
    const uncaught: unknown[] = [];
    const onUncaught = (err: unknown) => uncaught.push(err);
    process.on('uncaughtException', onUncaught);
    const checkedOut = createPool({ connectionString: db.url, application_name: 'checked-out' }, { max: 1 });
    try {
      const failed = withTenant(checkedOut, a.tenantId, async (tx) => {
        await tx.query('SELECT 1');
        await db.admin.query(
          `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'checked-out'`,
        );
        // The FATAL and the closed socket arrive between the two queries.
        while ((await db.admin.query(`SELECT 1 FROM pg_stat_activity WHERE application_name = 'checked-out'`)).rowCount)
          await new Promise((r) => setTimeout(r, 20));
        await new Promise((r) => setTimeout(r, 50));
        return tx.query('SELECT 2');
      });
      await expect(failed).rejects.toThrow(/terminat|not queryable/i);
      expect(uncaught).toEqual([]);
      const count = await withTenant(
        checkedOut,
        a.tenantId,
        async (tx) => (await tx.query('SELECT count(*)::int AS n FROM agents')).rows[0].n,
      );
      expect(count).toBe(1); // the broken client was dropped, a new one serves
    } finally {
      process.off('uncaughtException', onUncaught);
      await checkedOut.end();
    }
  });

  it('the pool survives its connections being killed (a database restart): broken ones are dropped, not reused', async () => {
    const a = await createTenant(db.admin);
    const errors: Error[] = [];
    const survivor = createPool(
      { connectionString: db.url, application_name: 'survivor' },
      { max: 2, onError: (err) => errors.push(err) },
    );
    try {
      await withTenant(survivor, a.tenantId, (tx) => tx.query('SELECT 1'));
      // Kill every backend of this pool, as a restart or failover would.
      await db.admin.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'survivor'`,
      );
      // The idle connection's death is reported, not thrown (it would kill the process).
      await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0));
      const count = await withTenant(
        survivor,
        a.tenantId,
        async (tx) => (await tx.query('SELECT count(*)::int AS n FROM agents')).rows[0].n,
      );
      expect(count).toBe(1);
    } finally {
      await survivor.end();
    }
  });
});
