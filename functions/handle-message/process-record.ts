// Answers one KonstructMessage: validate, load the agent under RLS, claim the message, ask `complete`, store, publish.
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Tx } from '../common/db.ts';
import { MAX_BODY_BYTES } from '../common/complete-contract.ts';
import {
  conversationKey,
  messageGroupId,
  parseKonstructMessage,
  replyTextThatFits,
  type Reply,
  type ServableMessage,
} from '../common/message.ts';
import { buildMessages, buildSystemPrompt, trimHistory, type HistoryTurn } from './prompt.ts';
import { completeCallTimeoutMs, completeRequestBody, type AgentAnswer, type RunAgentInput } from './run-agent.ts';
import {
  claimMessage,
  findReply,
  loadAgent,
  loadHistory,
  storeExchange,
  tenantExists,
  type StoredReply,
} from './store.ts';

/** A record that can never succeed: it goes to the DLQ with this reason and is acknowledged. */
export class PermanentFailure extends Error {
  override name = 'PermanentFailure';
}

/** The reply could not be published: transient, and the redelivery publishes the stored reply. */
export class ReplyPublishError extends Error {
  override name = 'ReplyPublishError';
}

/** A claim outlives the call to `complete` by this much, so the holder can still store its answer. */
const CLAIM_MARGIN_MS = 5_000;

export interface MessageDeps {
  withTenant<T>(tenantId: string, fn: (tx: Tx) => Promise<T>): Promise<T>;
  runAgent(input: RunAgentInput): Promise<AgentAnswer>;
  publishReply(reply: Reply, groupId: string): Promise<void>;
  newId(): string;
  historyLimit: number;
  logger: Logger;
}

export type Outcome =
  { kind: 'answered'; reply: Reply } | { kind: 'republished'; reply: Reply } | { kind: 'ignored'; reason: string };

function parseMessage(body: string): ServableMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(body);
  } catch {
    throw new PermanentFailure('body is not JSON');
  }
  const parsed = parseKonstructMessage(raw);
  if (!parsed.ok) throw new PermanentFailure(parsed.reason);
  return parsed.message;
}

function toReply(stored: StoredReply, message: ServableMessage): Reply {
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

async function publish(deps: MessageDeps, reply: Reply, groupId: string): Promise<void> {
  try {
    await deps.publishReply(reply, groupId);
  } catch (err) {
    throw new ReplyPublishError('the reply could not be published', { cause: err });
  }
}

/**
 * Throws PermanentFailure for records to dead-letter; any other error is transient (the record is retried).
 * `sqsMessageId` identifies this delivery (kept across its redeliveries) as the holder of the message's claim.
 */
const NO_ROOM_FOR_REPLY = 'channel_metadata and thread_id leave no room for a reply in one SQS message';
/** The smallest reply a message can get, to check up front that one fits an SQS message. */
const EMPTY_REPLY: StoredReply = {
  id: '00000000-0000-0000-0000-000000000000',
  agent_id: '00000000-0000-0000-0000-000000000000',
  content: '',
  model: null,
  prompt_tokens: null,
  completion_tokens: null,
  fallback: false,
  created_at: new Date(0),
};

export async function processMessage(
  body: string,
  deps: MessageDeps,
  remainingMs: number,
  sqsMessageId: string,
): Promise<Outcome> {
  const message = parseMessage(body);
  const tenantId = message.tenant_id;
  if (message.sender.is_bot) return { kind: 'ignored', reason: 'sender is a bot' };
  if (!message.content.text.trim()) return { kind: 'ignored', reason: 'empty text' };
  // Known before any database or LLM call: the fields a reply echoes may leave no room for its text.
  if (replyTextThatFits(toReply(EMPTY_REPLY, message)) === undefined) throw new PermanentFailure(NO_ROOM_FOR_REPLY);

  const key = conversationKey(message);
  const groupId = messageGroupId(tenantId, key);
  const agentId = message.context.agent_id;
  const claim = {
    tenantId,
    sourceMessageId: message.id,
    holder: sqsMessageId,
    leaseMs: completeCallTimeoutMs(remainingMs) + CLAIM_MARGIN_MS,
  };

  const prepared = await deps.withTenant(tenantId, async (tx) => {
    if (!(await tenantExists(tx, tenantId))) throw new PermanentFailure('unknown tenant');
    const stored = await findReply(tx, message.id);
    if (stored) return { stored };
    const agent = await loadAgent(tx, agentId);
    if (!agent) {
      throw new PermanentFailure(
        agentId ? `agent ${agentId} is not an active agent of this tenant` : 'the tenant has no active agent',
      );
    }
    if (!(await claimMessage(tx, claim))) return { claimed: false as const };
    return { agent, history: await loadHistory(tx, agent.id, key, deps.historyLimit) };
  });

  if (prepared.stored) {
    // One message, one reply: a redelivery re-publishes the stored reply and never calls the LLM again.
    const reply = toReply(prepared.stored, message);
    await publish(deps, reply, groupId);
    return { kind: 'republished', reply };
  }
  if (!prepared.agent)
    return { kind: 'ignored', reason: 'another SQS message of the same message id holds its claim and answers it' };

  const { agent } = prepared;
  const systemPrompt = buildSystemPrompt(agent);
  const request = (history: readonly HistoryTurn[]): RunAgentInput => ({
    model: agent.model_preference,
    messages: buildMessages(systemPrompt, message.content.text, history),
    tenantId,
    messageId: message.id,
    remainingMs,
  });
  // When the system prompt and the message alone are too large, they go anyway: `complete` answers 413.
  const history = trimHistory(prepared.history, MAX_BODY_BYTES - Buffer.byteLength(completeRequestBody(request([]))));
  if (history.length < prepared.history.length) {
    deps.logger.info('history trimmed to fit the complete request body', {
      tenant_id: tenantId,
      kept_turns: history.length,
      dropped_turns: prepared.history.length - history.length,
    });
  }
  const answer = await deps.runAgent(request(history));
  if (answer.fallback) {
    const log = answer.status === 400 ? deps.logger.error.bind(deps.logger) : deps.logger.warn.bind(deps.logger);
    log('complete failed; sending the polite fallback reply', {
      tenant_id: tenantId,
      agent_id: agent.id,
      failure: answer.failure,
      model_group: agent.model_preference,
    });
  }

  const answered: StoredReply = {
    id: deps.newId(),
    agent_id: agent.id,
    content: answer.text.replaceAll('\0', '\uFFFD'), // Postgres cannot store U+0000; a provider may send it
    model: answer.model,
    // Counts a Postgres `int` could not hold are already null: the complete contract reads them so.
    prompt_tokens: answer.usage?.prompt_tokens ?? null,
    completion_tokens: answer.usage?.completion_tokens ?? null,
    fallback: answer.fallback,
    created_at: new Date(),
  };
  // Cut so that the reply record, as it will be published, fits one SQS message; the same text is stored.
  const replyText = replyTextThatFits(toReply(answered, message));
  if (replyText === undefined) throw new PermanentFailure(NO_ROOM_FOR_REPLY);
  if (replyText.length < answered.content.length)
    deps.logger.warn('reply text cut to fit one SQS message', {
      tenant_id: tenantId,
      kept_chars: replyText.length,
      answer_chars: answer.text.length,
    });

  const stored = await deps.withTenant(tenantId, (tx) =>
    storeExchange(tx, {
      tenantId,
      agentId: agent.id,
      conversationKey: key,
      channel: message.channel,
      sourceMessageId: message.id,
      userText: message.content.text,
      userRowId: deps.newId(),
      replyRowId: answered.id,
      replyText,
      model: answered.model,
      promptTokens: answered.prompt_tokens,
      completionTokens: answered.completion_tokens,
      fallback: answered.fallback,
    }),
  );
  const reply = toReply(stored, message);
  await publish(deps, reply, groupId);
  return { kind: 'answered', reply };
}
