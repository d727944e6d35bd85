// KonstructMessage (inbound) and the agent's reply (outbound): one zod schema each, types derived from them.
import { createHash } from 'node:crypto';
import * as z from 'zod';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Lenient on the wire: unknown keys are ignored, since the channel gateways may add fields. */
export const konstructMessageSchema = z.object({
  id: z.string().min(1).max(512),
  tenant_id: z.string().nullable().optional(),
  channel: z.enum(['slack', 'whatsapp', 'mattermost']),
  channel_metadata: z.record(z.string(), z.unknown()).default({}),
  sender: z.object({
    user_id: z.string().min(1).max(256),
    display_name: z.string().default(''),
    email: z.string().nullable().optional(),
    is_bot: z.boolean().default(false),
  }),
  content: z.object({
    text: z.string(),
    html: z.string().nullable().optional(),
    attachments: z.array(z.unknown()).default([]),
    mentions: z.array(z.unknown()).default([]),
  }),
  timestamp: z.iso.datetime({ offset: true }),
  thread_id: z.string().nullable().optional(),
  reply_to: z.string().nullable().optional(),
  context: z.looseObject({ agent_id: z.string().regex(UUID, 'must be a UUID').optional() }).default({}),
});

export type KonstructMessage = z.infer<typeof konstructMessageSchema>;
/** What a publisher writes: defaults may be left out. */
export type KonstructMessageInput = z.input<typeof konstructMessageSchema>;

export const replySchema = z.object({
  id: z.uuid(),
  in_reply_to: z.string(),
  tenant_id: z.uuid(),
  agent_id: z.uuid().nullable(),
  channel: z.enum(['slack', 'whatsapp', 'mattermost']),
  channel_metadata: z.record(z.string(), z.unknown()),
  thread_id: z.string().nullable(),
  content: z.object({ text: z.string() }),
  model: z.string().nullable(),
  usage: z.object({ prompt_tokens: z.number().int(), completion_tokens: z.number().int() }).nullable(),
  fallback: z.boolean(),
  created_at: z.string(),
});
export type Reply = z.infer<typeof replySchema>;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** The conversation a message belongs to: its thread, else the channel and sender. */
export function conversationKey(message: Pick<KonstructMessage, 'thread_id' | 'channel' | 'sender'>): string {
  return message.thread_id || `${message.channel}:${message.sender.user_id}`;
}

/** SQS allows 128 characters of A-Z a-z 0-9 and ASCII punctuation in group and deduplication ids. */
const SQS_ID = /^[\x21-\x7e]{1,128}$/;
const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

/** `{tenant_id}:{conversation_key}`, or `{tenant_id}:{sha256(conversation_key)}` when that is not a valid SQS id. */
export function messageGroupId(tenantId: string, key: string): string {
  const plain = `${tenantId}:${key}`;
  if (SQS_ID.test(plain)) return plain;
  const hashed = `${tenantId}:${sha256(key)}`;
  return SQS_ID.test(hashed) ? hashed : sha256(plain);
}

/** The message id, or its SHA-256 hex when it is not a valid SQS deduplication id. */
export function deduplicationId(id: string): string {
  return SQS_ID.test(id) ? id : sha256(id);
}
