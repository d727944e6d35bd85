// The wire contract of POST /complete, request and answer, as zod schemas: both functions derive their types here.
import * as z from 'zod';

/** The largest request body `complete` reads; the caller trims its history to fit. */
export const MAX_BODY_BYTES = 1024 * 1024;
/** The request's deadline when it names no `timeout_ms`. */
export const DEFAULT_TIMEOUT_MS = 60_000;

/** A strict object's message for a key it does not know: what to do, and what is allowed. */
const unknownKeyMessage =
  (allowed: string) =>
  (issue: { code?: string }): string | undefined =>
    issue.code === 'unrecognized_keys' ? `unknown field; remove it (${allowed})` : undefined;

/** Who the call is attributed to in the cost records (never used for routing). */
export const tenantIdSchema = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[A-Za-z0-9._:-]+$/, 'must be 1–128 characters of A-Z a-z 0-9 . _ : -');
export const maxTokensSchema = z.number().int().min(1).max(32_000);
export const temperatureSchema = z.number().min(0).max(2);
/** The request's own deadline, in milliseconds. */
export const timeoutMsSchema = z.number().int().min(100).max(900_000);

export const chatMessageSchema = z.strictObject(
  {
    role: z.enum(['system', 'user', 'assistant']),
    content: z.string(),
  },
  { error: unknownKeyMessage('a message has role and content') },
);

export const completeRequestSchema = z.strictObject(
  {
    model: z.string().min(1).max(128),
    // System messages alone are refused by some providers and accepted by others: refused here, for all.
    messages: z.array(chatMessageSchema).refine((messages) => messages.some((m) => m.role !== 'system'), {
      message: 'at least one user or assistant message is required (system messages alone cannot be answered)',
    }),
    tenant_id: tenantIdSchema,
    max_tokens: maxTokensSchema.optional(),
    temperature: temperatureSchema.optional(),
    timeout_ms: timeoutMsSchema.optional(),
  },
  {
    error: unknownKeyMessage(
      'allowed: model, messages, tenant_id, max_tokens, temperature, timeout_ms; a message has role and content',
    ),
  },
);

export type ChatMessage = z.infer<typeof chatMessageSchema>;
export type CompleteRequest = z.infer<typeof completeRequestSchema>;

/** The largest token count the contract carries: a database `int`. */
const MAX_TOKEN_COUNT = 2 ** 31 - 1;

/**
 * A token count as the contract carries it: a non-negative integer an `int` holds, else null (unknown).
 * A count that would overflow the database or poison a cost sum is no count at all.
 */
export function tokenCount(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= MAX_TOKEN_COUNT ? value : null;
}

/** A reader takes any odd value for unknown too, so one odd count never loses an answer. */
const tokenCountSchema = z.unknown().optional().transform(tokenCount);

export const usageSchema = z.object({ prompt_tokens: tokenCountSchema, completion_tokens: tokenCountSchema });
export type Usage = z.infer<typeof usageSchema>;

export const finishReasonSchema = z.enum(['stop', 'length', 'content_filter', 'other']);
/** `content_filter`: the model refused (its refusal text, if any, is the content). */
export type FinishReason = z.infer<typeof finishReasonSchema>;

/** The 200 answer. Lenient on keys (additive fields may come); the four first fields are always present. */
export const completeResponseSchema = z.object({
  content: z.string(),
  /** The deployment that answered. */
  model: z.string(),
  usage: usageSchema,
  finish_reason: finishReasonSchema,
  model_group: z.string().optional(),
  fallback: z.boolean().optional(),
  attempts: z.number().int().optional(),
  latency_ms: z.number().optional(),
  cost_usd: z.number().optional(),
});

/** The answer as `complete` writes it (a reader gets the parsed value, with odd counts made null). */
export type CompleteResponse = z.input<typeof completeResponseSchema>;
