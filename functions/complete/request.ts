// The body of POST /complete: one zod schema, built once, with the types derived from it.
import * as z from 'zod';

export const MAX_BODY_BYTES = 1024 * 1024;

export const chatMessageSchema = z.strictObject({
  role: z.enum(['system', 'user', 'assistant']),
  content: z.string(),
});

export const completeRequestSchema = z.strictObject({
  model: z.string().min(1).max(128),
  messages: z.array(chatMessageSchema).min(1),
  tenant_id: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9._:-]+$/, 'must be 1–128 characters of A-Z a-z 0-9 . _ : -'),
  max_tokens: z.number().int().min(1).max(32_000).optional(),
  temperature: z.number().min(0).max(2).optional(),
  timeout_ms: z.number().int().min(100).max(900_000).optional(),
});

export type ChatMessage = z.infer<typeof chatMessageSchema>;
export type CompleteRequest = z.infer<typeof completeRequestSchema>;

export const DEFAULT_TIMEOUT_MS = 60_000;

export interface FieldProblem {
  field: string;
  problem: string;
}

/** Validation issues as `{ field, problem }`, naming unknown keys one by one. */
export function describeIssues(error: z.ZodError): FieldProblem[] {
  return error.issues.flatMap((issue) => {
    const base = issue.path
      .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
      .join('')
      .replace(/^\./, '');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        field: base ? `${base}.${key}` : key,
        problem:
          'unknown field; remove it (allowed: model, messages, tenant_id, max_tokens, temperature, timeout_ms; a message has role and content)',
      }));
    }
    return [{ field: base || '(body)', problem: issue.message }];
  });
}
