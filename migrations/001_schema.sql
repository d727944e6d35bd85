-- Tenants, their agents, and the conversation turns the agents answered.
CREATE TABLE IF NOT EXISTS tenants (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name text NOT NULL,
  slug text UNIQUE NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS agents (
  id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  name text NOT NULL,
  role text NOT NULL,
  persona text,
  system_prompt text,
  model_preference text NOT NULL DEFAULT 'quality',
  tool_assignments jsonb NOT NULL DEFAULT '[]',
  escalation_rules jsonb NOT NULL DEFAULT '[]',
  is_active boolean NOT NULL DEFAULT true,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS agents_tenant_active_idx ON agents (tenant_id, created_at) WHERE is_active;

CREATE TABLE IF NOT EXISTS conversation_messages (
  id uuid PRIMARY KEY,
  seq bigint GENERATED ALWAYS AS IDENTITY,
  tenant_id uuid NOT NULL REFERENCES tenants ON DELETE CASCADE,
  agent_id uuid REFERENCES agents ON DELETE SET NULL,
  conversation_key text NOT NULL,
  role text NOT NULL CHECK (role IN ('user', 'assistant')),
  content text NOT NULL,
  source_message_id text NOT NULL,
  channel text NOT NULL,
  model text,
  prompt_tokens int,
  completion_tokens int,
  fallback boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, role, source_message_id)
);
CREATE INDEX IF NOT EXISTS conversation_messages_history_idx
  ON conversation_messages (tenant_id, agent_id, conversation_key, created_at DESC, seq DESC);
