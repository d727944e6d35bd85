// The demo tenant and its agent Ava, created once (idempotent). The tables force RLS even for their
// owner, so the seed sets the demo tenant first: it works as a superuser or as an RDS master user.
import type { ClientBase } from 'pg';

export const DEMO_SLUG = 'demo';
/** A fixed id, so the seed can set `app.current_tenant` before it can read the tenant. */
export const DEMO_TENANT_ID = '00000000-0000-4000-8000-00000000de70';

export async function seedDemo(client: ClientBase): Promise<{ tenantId: string; agentId: string }> {
  await client.query('BEGIN');
  try {
    await client.query("SELECT set_config('app.current_tenant', $1, true)", [DEMO_TENANT_ID]);
    await client.query(`INSERT INTO tenants (id, name, slug) VALUES ($1, 'Demo', $2) ON CONFLICT (id) DO NOTHING`, [
      DEMO_TENANT_ID,
      DEMO_SLUG,
    ]);
    let agentId = (
      await client.query<{ id: string }>(`SELECT id FROM agents WHERE tenant_id = $1 AND name = 'Ava'`, [
        DEMO_TENANT_ID,
      ])
    ).rows[0]?.id;
    if (!agentId) {
      agentId = (
        await client.query<{ id: string }>(
          `INSERT INTO agents (tenant_id, name, role, persona, model_preference)
           VALUES ($1, 'Ava', 'Customer Support', 'Friendly, concise and precise.', 'quality') RETURNING id`,
          [DEMO_TENANT_ID],
        )
      ).rows[0]!.id;
    }
    await client.query('COMMIT');
    return { tenantId: DEMO_TENANT_ID, agentId };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  }
}
