// Answers one KonstructMessage: validate, load the agent under RLS, ask `complete`, store, publish.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Tx } from '../common/db.ts';
import { conversationKey, isUuid, konstructMessageSchema, messageGroupId, type KonstructMessage, type Reply } from '../common/message.ts';
import { buildMessages, buildSystemPrompt } from './prompt.ts';
import type { AgentAnswer, RunAgentInput } from './run-agent.ts';
import { findReply, loadAgent, loadHistory, storeExchange, tenantExists, type StoredReply } from './store.ts';

/** A record that can never succeed: it goes to the DLQ with this reason and is acknowledged. */
export class PermanentFailure extends Error {
  override name = 'PermanentFailure';
}

export interface MessageDeps {
  withTenant<T>(tenantId: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  runAgent(input: RunAgentInput): Promise<AgentAnswer>;
  publishReply(reply: Reply, groupId: string): Promise<void>;
  newId(): string;
  historyLimit: number;
  logger: Logger;
}

export type Outcome =
  | { kind: 'answered'; reply: Reply }
  | { kind: 'republished'; reply: Reply }
  | { kind: 'ignored'; reason: string };

function parseMessage(body: string): KonstructMessage & { tenant_id: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new PermanentFailure('body is not JSON');
  }
  const parsed = konstructMessageSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new PermanentFailure(`not a KonstructMessage: ${issues.join('; ')}`);
  }
  const message = parsed.data;
  if (message.tenant_id === null || message.tenant_id === undefined) throw new PermanentFailure('tenant_id is missing: a message without a tenant cannot be served');
  if (!isUuid(message.tenant_id)) throw new PermanentFailure('tenant_id is not a UUID');
  return message as KonstructMessage & { tenant_id: string };
}

function toReply(stored: StoredReply, message: KonstructMessage & { tenant_id: string }): Reply {
  return {
    id: stored.id,
    in_reply_to: message.id,
    tenant_id: message.tenant_id,
    agent_id: stored.agent_id,
    channel: message.channel,
    channel_metadata: message.channel_metadata,
    thread_id: message.thread_id ?? null,
    content: { text: stored.content },
    model: stored.model,
    usage:
      stored.prompt_tokens !== null && stored.completion_tokens !== null
        ? { prompt_tokens: stored.prompt_tokens, completion_tokens: stored.completion_tokens }
        : null,
    fallback: stored.fallback,
    created_at: new Date(stored.created_at).toISOString(),
  };
}

/** Throws PermanentFailure for records to dead-letter; any other error is transient (the record is retried). */
export async function processMessage(body: string, deps: MessageDeps, remainingMs: number): Promise<Outcome> {
  const message = parseMessage(body);
  const tenantId = message.tenant_id;
  if (message.sender.is_bot) return { kind: 'ignored', reason: 'sender is a bot' };
  if (!message.content.text.trim()) return { kind: 'ignored', reason: 'empty text' };

  const key = conversationKey(message);
  const groupId = messageGroupId(tenantId, key);
  const agentId = message.context.agent_id;

  const prepared = await deps.withTenant(tenantId, async (tx) => {
    if (!(await tenantExists(tx, tenantId))) throw new PermanentFailure('unknown tenant');
    const stored = await findReply(tx, message.id);
    if (stored) return { stored };
    const agent = await loadAgent(tx, agentId);
    if (!agent) {
      throw new PermanentFailure(agentId ? `agent ${agentId} is not an active agent of this tenant` : 'the tenant has no active agent');
    }
    return { agent, history: await loadHistory(tx, agent.id, key, deps.historyLimit) };
  });

  if (prepared.stored) {
    // One message, one reply: a redelivery re-publishes the stored reply and never calls the LLM again.
    const reply = toReply(prepared.stored, message);
    await deps.publishReply(reply, groupId);
    return { kind: 'republished', reply };
  }

  const { agent, history } = prepared;
  const answer = await deps.runAgent({
    model: agent.model_preference,
    messages: buildMessages(buildSystemPrompt(agent), message.content.text, history),
    tenantId,
    messageId: message.id,
    remainingMs,
  });
  if (answer.fallback) {
    const log = answer.status === 400 ? deps.logger.error.bind(deps.logger) : deps.logger.warn.bind(deps.logger);
    log('complete failed; sending the polite fallback reply', { tenant_id: tenantId, agent_id: agent.id, failure: answer.failure, model_group: agent.model_preference });
  }

  const stored = await deps.withTenant(tenantId, (tx) =>
    storeExchange(tx, {
      tenantId,
      agentId: agent.id,
      conversationKey: key,
      channel: message.channel,
      sourceMessageId: message.id,
      userText: message.content.text,
      userRowId: deps.newId(),
      replyRowId: deps.newId(),
      replyText: answer.text,
      model: answer.model,
      promptTokens: answer.usage?.prompt_tokens ?? null,
      completionTokens: answer.usage?.completion_tokens ?? null,
      fallback: answer.fallback,
    }),
  );
  const reply = toReply(stored, message);
  await deps.publishReply(reply, groupId);
  return { kind: 'answered', reply };
}
