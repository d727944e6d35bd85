-- One LLM call at a time per message id: a lease on (tenant, message id) held by one SQS message.
CREATE TABLE IF NOT EXISTS message_claims (
  tenant_id uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  source_message_id text NOT NULL,
  holder_sqs_message_id text NOT NULL,
  lease_until timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, source_message_id)
);

REVOKE ALL ON message_claims FROM konstruct_app;
GRANT SELECT, INSERT, UPDATE ON message_claims TO konstruct_app;

ALTER TABLE message_claims ENABLE ROW LEVEL SECURITY;
ALTER TABLE message_claims FORCE ROW LEVEL SECURITY;

DROP POLICY IF EXISTS tenant_isolation ON message_claims;
CREATE POLICY tenant_isolation ON message_claims
  USING (tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::uuid)
  WITH CHECK (tenant_id = NULLIF(current_setting('app.current_tenant', true), '')::uuid);
