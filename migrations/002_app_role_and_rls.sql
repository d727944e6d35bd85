-- The application role and row-level security: a tenant sees only its own rows; no tenant set, no rows.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'konstruct_app') THEN
    CREATE ROLE konstruct_app NOLOGIN NOBYPASSRLS;
  END IF;
END
$$;
-- Altered only where it differs: naming BYPASSRLS in ALTER ROLE at all needs a superuser, which RDS's master
-- is not (a konstruct_app someone gave BYPASSRLS still fails here, loudly, unless a superuser runs it).
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'konstruct_app' AND rolcanlogin) THEN
    ALTER ROLE konstruct_app NOLOGIN;
  END IF;
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'konstruct_app' AND rolbypassrls) THEN
    ALTER ROLE konstruct_app NOBYPASSRLS;
  END IF;
END
$$;
-- On RDS (Postgres 16+) the login user may not SET ROLE to a role it created without membership.
GRANT konstruct_app TO CURRENT_USER;

REVOKE ALL ON tenants, agents, conversation_messages FROM konstruct_app;
GRANT USAGE ON SCHEMA public TO konstruct_app;
GRANT SELECT ON tenants, agents TO konstruct_app;
GRANT SELECT, INSERT ON conversation_messages TO konstruct_app;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
ALTER TABLE agents ENABLE ROW LEVEL SECURITY;
ALTER TABLE agents FORCE ROW LEVEL SECURITY;
ALTER TABLE conversation_messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE conversation_messages FORCE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS tenant_isolation ON tenants;
CREATE POLICY tenant_isolation ON tenants
  USING (id = NULLIF(current_setting('app.current_tenant', true), '')::uuid)
  WITH CHECK (id = NULLIF(current_setting('app.current_tenant', true), '')::uuid);

DROP POLICY IF EXISTS tenant_isolation ON agents;
CREATE POLICY tenant_isolation ON agents
  USING (tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::uuid);

DROP POLICY IF EXISTS tenant_isolation ON conversation_messages;
CREATE POLICY tenant_isolation ON conversation_messages
  USING (tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::uuid);
