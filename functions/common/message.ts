// KonstructMessage (inbound) and the agent's reply (outbound): one zod schema each, types derived from them.
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { issueLines } from './field-problems.ts';

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

/** The deepest a message may nest: the top-level object is level 1, each object or array adds one. */
export const MAX_NESTING = 32;

/** A key shown as it is in a field path; any other key (it is data, not a field name) is shown by position. */
const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
const MAX_PATH_CHARS = 160;

function pathOf(segments: readonly string[]): string {
  const path = segments.join('').replace(/^\./, '') || '(root)';
  return path.length > MAX_PATH_CHARS ? `${path.slice(0, MAX_PATH_CHARS)}…` : path;
}

/**
 * Why a parsed body can never be stored or published, naming the field path and never a value: a U+0000
 * anywhere, in a string or a key, ignored fields included (Postgres cannot store it), or nesting deeper
 * than MAX_NESTING (serialising it again would overflow the stack). `undefined` when there is none.
 */
export function structuralProblem(value: unknown): string | undefined {
  const visit = (node: unknown, level: number, path: string[]): string | undefined => {
    if (typeof node === 'string')
      return node.includes('\0') ? `${pathOf(path)}: contains U+0000, which cannot be stored` : undefined;
    if (typeof node !== 'object' || node === null) return undefined;
    if (level > MAX_NESTING) return `${pathOf(path)}: nested deeper than ${MAX_NESTING} levels`;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const problem = visit(node[i], level + 1, [...path, `[${i}]`]);
        if (problem) return problem;
      }
      return undefined;
    }
    const keys = Object.keys(node);
    for (let i = 0; i < keys.length; i++) {
      const key = keys[i]!;
      const segment = PLAIN_KEY.test(key) ? `.${key}` : `[key ${i}]`;
      if (key.includes('\0')) return `${pathOf([...path, segment])}: a key contains U+0000, which cannot be stored`;
      const problem = visit((node as Record<string, unknown>)[key], level + 1, [...path, segment]);
      if (problem) return problem;
    }
    return undefined;
  };
  return visit(value, 1, []);
}

/** A KonstructMessage this product can serve: it names its tenant by UUID. */
export type ServableMessage = KonstructMessage & { tenant_id: string };

/**
 * The one check of a KonstructMessage, for whoever publishes it and for the handler that answers it:
 * structure first (U+0000, nesting), then the schema, then the tenant. A failure is a reason naming the
 * field path, never a value, the same words wherever the message is refused.
 */
export function parseKonstructMessage(
  value: unknown,
): { ok: true; message: ServableMessage } | { ok: false; reason: string } {
  const problem = structuralProblem(value);
  if (problem) return { ok: false, reason: `not a KonstructMessage: ${problem}` };
  const parsed = konstructMessageSchema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: `not a KonstructMessage: ${issueLines(parsed.error).join('; ')}` };
  const message = parsed.data;
  if (message.tenant_id === null || message.tenant_id === undefined)
    return { ok: false, reason: 'tenant_id is missing: a message without a tenant UUID cannot be served' };
  if (!isUuid(message.tenant_id))
    return { ok: false, reason: 'tenant_id is not a UUID: a message without a tenant UUID cannot be served' };
  return { ok: true, message: { ...message, tenant_id: message.tenant_id } };
}

/** One SQS message: at most 1 MiB of body. */
export const MAX_SQS_MESSAGE_BYTES = 1_048_576;

/**
 * A reply as the replies queue carries it: JSON, with U+FFFE and U+FFFF escaped — SQS refuses them raw,
 * while JSON.stringify already escapes control characters and lone surrogates.
 */
export function serializeReply(reply: Reply): string {
  return JSON.stringify(reply).replace(/[\uFFFE\uFFFF]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/** Bytes a code point takes inside a serialized reply's JSON string. */
function serializedBytes(codePoint: number): number {
  if (codePoint === 0x22 || codePoint === 0x5c) return 2; // \" \\
  if (codePoint === 0x08 || codePoint === 0x09 || codePoint === 0x0a || codePoint === 0x0c || codePoint === 0x0d)
    return 2; // \b \t \n \f \r
  if (codePoint < 0x20) return 6; // \u00XX
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  if (codePoint > 0xffff) return 4;
  if ((codePoint >= 0xd800 && codePoint <= 0xdfff) || codePoint >= 0xfffe) return 6; // escaped: lone surrogates, U+FFFE, U+FFFF
  return 3;
}

/**
 * The reply's text, cut on a code-point boundary so that the serialized reply fits one SQS message;
 * the text itself when it fits. `undefined` when not even an empty text would fit.
 */
export function replyTextThatFits(reply: Reply, maxBytes = MAX_SQS_MESSAGE_BYTES): string | undefined {
  const text = reply.content.text;
  if (Buffer.byteLength(serializeReply(reply)) <= maxBytes) return text;
  let room = maxBytes - Buffer.byteLength(serializeReply({ ...reply, content: { text: '' } }));
  if (room < 0) return undefined;
  let end = 0;
  for (const char of text) {
    room -= serializedBytes(char.codePointAt(0)!);
    if (room < 0) break;
    end += char.length;
  }
  return text.slice(0, end);
}

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
