// The agent store: every query runs inside `withTenant`, so row-level security scopes it to one tenant.
import type { Tx } from '../common/db.ts';
import type { AgentPersona, HistoryTurn } from './prompt.ts';

export interface Agent extends AgentPersona {
  id: string;
  tenant_id: string;
  model_preference: string;
}

export interface StoredReply {
  id: string;
  agent_id: string | null;
  content: string;
  model: string | null;
  prompt_tokens: number | null;
  completion_tokens: number | null;
  fallback: boolean;
  created_at: Date;
}

export async function tenantExists(tx: Tx, tenantId: string): Promise<boolean> {
  const { rowCount } = await tx.query('SELECT 1 FROM tenants WHERE id = $1', [tenantId]);
  return (rowCount ?? 0) > 0;
}

/** The named agent if it is active and visible (RLS), else — with no name — the tenant's oldest active agent. */
export async function loadAgent(tx: Tx, agentId: string | undefined): Promise<Agent | undefined> {
  const columns = 'id, tenant_id, name, role, persona, system_prompt, model_preference';
  const { rows } = agentId
    ? await tx.query<Agent>(`SELECT ${columns} FROM agents WHERE id = $1 AND is_active`, [agentId])
    : await tx.query<Agent>(`SELECT ${columns} FROM agents WHERE is_active ORDER BY created_at, id LIMIT 1`);
  return rows[0];
}

export async function findReply(tx: Tx, sourceMessageId: string): Promise<StoredReply | undefined> {
  const { rows } = await tx.query<StoredReply>(
    `SELECT id, agent_id, content, model, prompt_tokens, completion_tokens, fallback, created_at
       FROM conversation_messages WHERE role = 'assistant' AND source_message_id = $1`,
    [sourceMessageId],
  );
  return rows[0];
}

export interface Claim {
  tenantId: string;
  sourceMessageId: string;
  /** The SQS message (one delivery, kept across its redeliveries) that will call the LLM. */
  holder: string;
  leaseMs: number;
}

/**
 * Claims the message for one SQS message until the lease ends, so that one message id is answered by at
 * most one LLM call at a time, even when it arrives in several message groups. Granted when unclaimed,
 * to the holder's own redelivery, and to anyone once the lease has ended; false while another SQS
 * message holds a live claim (a concurrent claimer waits for the first to commit, then sees its claim).
 */
export async function claimMessage(tx: Tx, claim: Claim): Promise<boolean> {
  const { rowCount } = await tx.query(
    `INSERT INTO message_claims (tenant_id, source_message_id, holder_sqs_message_id, lease_until)
     VALUES ($1, $2, $3, now() + make_interval(secs => $4))
     ON CONFLICT (tenant_id, source_message_id) DO UPDATE
        SET holder_sqs_message_id = EXCLUDED.holder_sqs_message_id, lease_until = EXCLUDED.lease_until
      WHERE message_claims.holder_sqs_message_id = EXCLUDED.holder_sqs_message_id OR message_claims.lease_until <= now()`,
    [claim.tenantId, claim.sourceMessageId, claim.holder, claim.leaseMs / 1000],
  );
  return (rowCount ?? 0) > 0;
}

/** The last `limit` turns of the conversation with this agent, oldest first; fallback replies left out. */
export async function loadHistory(tx: Tx, agentId: string, key: string, limit: number): Promise<HistoryTurn[]> {
  if (limit <= 0) return [];
  const { rows } = await tx.query<HistoryTurn>(
    `SELECT role, content FROM (
       SELECT role, content, created_at, seq FROM conversation_messages
        WHERE agent_id = $1 AND conversation_key = $2 AND NOT fallback
        ORDER BY created_at DESC, seq DESC LIMIT $3
     ) recent ORDER BY created_at, seq`,
    [agentId, key, limit],
  );
  return rows;
}

export interface Exchange {
  tenantId: string;
  agentId: string;
  conversationKey: string;
  channel: string;
  sourceMessageId: string;
  userText: string;
  userRowId: string;
  replyRowId: string;
  replyText: string;
  model: string | null;
  promptTokens: number | null;
  completionTokens: number | null;
  fallback: boolean;
}

/**
 * Stores the user turn and the reply (one transaction, the caller's). When another delivery of the same
 * message stored first, nothing is written and the reply already stored is returned instead.
 */
export async function storeExchange(tx: Tx, e: Exchange): Promise<StoredReply> {
  await tx.query(
    `INSERT INTO conversation_messages (id, tenant_id, agent_id, conversation_key, role, content, source_message_id, channel)
     VALUES ($1, $2, $3, $4, 'user', $5, $6, $7)
     ON CONFLICT (tenant_id, role, source_message_id) DO NOTHING`,
    [e.userRowId, e.tenantId, e.agentId, e.conversationKey, e.userText, e.sourceMessageId, e.channel],
  );
  const { rows } = await tx.query<StoredReply>(
    `INSERT INTO conversation_messages
       (id, tenant_id, agent_id, conversation_key, role, content, source_message_id, channel, model, prompt_tokens, completion_tokens, fallback)
     VALUES ($1, $2, $3, $4, 'assistant', $5, $6, $7, $8, $9, $10, $11)
     ON CONFLICT (tenant_id, role, source_message_id) DO NOTHING
     RETURNING id, agent_id, content, model, prompt_tokens, completion_tokens, fallback, created_at`,
    [
      e.replyRowId,
      e.tenantId,
      e.agentId,
      e.conversationKey,
      e.replyText,
      e.sourceMessageId,
      e.channel,
      e.model,
      e.promptTokens,
      e.completionTokens,
      e.fallback,
    ],
  );
  return rows[0] ?? (await findReply(tx, e.sourceMessageId))!;
}
