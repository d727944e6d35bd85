// A database of its own for a test file: a copy of the migrated template in the run's Postgres.
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { inject } from 'vitest';
import { connectClient, createPool } from '../../functions/common/db.ts';
import { freePort } from '../../local/postgres.ts';

export const TEMPLATE_DATABASE = 'konstruct_template';

export interface TestDatabase {
  /** Connects as the migration user (superuser here): for arranging and inspecting data. */
  url: string;
  admin: pg.Pool;
  drop(): Promise<void>;
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = inject('postgresAdminUrl');
  const name = `t_${randomBytes(6).toString('hex')}`;
  const server = await connectClient({ connectionString: adminUrl });
  await server.query(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE_DATABASE}`);
  await server.end();
  const url = adminUrl.replace(/\/postgres$/, `/${name}`);
  const admin = createPool({ connectionString: url, connectionTimeoutMillis: 0 }, { max: 3 });
  return {
    url,
    admin,
    async drop() {
      await admin.end();
      const c = await connectClient({ connectionString: adminUrl });
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/** A pool whose connections are refused (nothing listens on its port): a database outage, for real. */
export async function unreachableDatabase(): Promise<pg.Pool> {
  return createPool({
    connectionString: `postgres://nobody:x@127.0.0.1:${await freePort()}/none`,
    connectionTimeoutMillis: 1_000,
  });
}

/** Inserts a tenant and its agents as the superuser (bypassing RLS, as an operator would). */
export async function createTenant(
  admin: pg.Pool,
  agents: {
    name?: string;
    role?: string;
    persona?: string | null;
    system_prompt?: string | null;
    model_preference?: string;
    is_active?: boolean;
  }[] = [{}],
): Promise<{ tenantId: string; agentIds: string[] }> {
  const slug = `t-${randomBytes(5).toString('hex')}`;
  const tenantId = (
    await admin.query<{ id: string }>(`INSERT INTO tenants (name, slug) VALUES ($1, $1) RETURNING id`, [slug])
  ).rows[0]!.id;
  const agentIds: string[] = [];
  for (const [i, a] of agents.entries()) {
    const { rows } = await admin.query<{ id: string }>(
      `INSERT INTO agents (tenant_id, name, role, persona, system_prompt, model_preference, is_active, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, now() + make_interval(secs => $8)) RETURNING id`,
      [
        tenantId,
        a.name ?? `Agent${i}`,
        a.role ?? 'Support',
        a.persona ?? null,
        a.system_prompt ?? null,
        a.model_preference ?? 'quality',
        a.is_active ?? true,
        i,
      ],
    );
    agentIds.push(rows[0]!.id);
  }
  return { tenantId, agentIds };
}
