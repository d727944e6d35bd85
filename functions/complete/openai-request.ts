// The OpenAI Chat Completions request as the router can honour it: what is accepted, refused (by name), and routed.
import * as z from 'zod';
import type { CallInput } from './routed-call.ts';
import { maxTokensSchema, temperatureSchema, tenantIdSchema, timeoutMsSchema } from '../common/complete-contract.ts';
import { fieldPath } from '../common/field-problems.ts';

/** An error as OpenAI words it; `status` is the HTTP status it goes out with. */
export interface OpenAiError {
  status: number;
  message: string;
  type: string;
  param: string | null;
  code: string | null;
}

export const TENANT_HEADER = 'x-konstruct-tenant';
export const TIMEOUT_HEADER = 'x-konstruct-timeout-ms';

const invalid = (param: string | null, message: string, code: string | null): OpenAiError => ({
  status: 400,
  message,
  type: 'invalid_request_error',
  param,
  code,
});

interface Neutral {
  /** The values that ask for nothing the router would have to do (null always counts as not sent). */
  accepts: (value: unknown) => boolean;
  /** Why another value cannot be honoured, for the person reading the 400. */
  why: string;
}

const never = () => false;
const sameJson = (neutral: unknown) => (value: unknown) => JSON.stringify(value) === JSON.stringify(neutral);

/**
 * Parameters OpenAI clients send that the router honours only at their neutral value (what clients send
 * by default): any other value would be silently dropped on the way to some provider, so it is refused.
 * `top_p` and `stop` are here because the provider call carries neither: not every adapter could honour them.
 */
const NEUTRAL: Record<string, Neutral> = {
  n: { accepts: (v) => v === 1, why: 'only one choice is generated; send "n": 1 or leave it out' },
  top_p: {
    accepts: (v) => v === 1,
    why: 'nucleus sampling is not passed to the providers; only the default 1 is accepted',
  },
  stop: { accepts: sameJson([]), why: 'stop sequences are not passed to the providers' },
  frequency_penalty: { accepts: (v) => v === 0, why: 'penalties are not passed to the providers; only 0 is accepted' },
  presence_penalty: { accepts: (v) => v === 0, why: 'penalties are not passed to the providers; only 0 is accepted' },
  logprobs: { accepts: (v) => v === false, why: 'log probabilities are not available from every provider' },
  top_logprobs: { accepts: never, why: 'log probabilities are not available from every provider' },
  logit_bias: { accepts: sameJson({}), why: 'logit bias is not available from every provider' },
  response_format: {
    accepts: sameJson({ type: 'text' }),
    why: 'structured output is not available from every provider; only {"type": "text"} is accepted',
  },
  tools: { accepts: never, why: 'tool calls are not supported by the router' },
  tool_choice: { accepts: never, why: 'tool calls are not supported by the router' },
  functions: { accepts: never, why: 'function calls are not supported by the router' },
  function_call: { accepts: never, why: 'function calls are not supported by the router' },
  seed: { accepts: never, why: 'a seed is not available from every provider' },
  modalities: { accepts: sameJson(['text']), why: 'only text answers are supported' },
  audio: { accepts: never, why: 'only text answers are supported' },
  prediction: { accepts: never, why: 'predicted outputs are not available from every provider' },
  reasoning_effort: { accepts: never, why: 'reasoning effort is not passed to the providers' },
  store: { accepts: (v) => v === false, why: 'completions are not stored' },
};

const textPart = z
  .object({ type: z.string() })
  .loose()
  .superRefine((part, ctx) => {
    if (part.type !== 'text')
      ctx.addIssue({
        code: 'custom',
        path: ['type'],
        message: 'only text parts ({"type": "text", "text": …}) can be routed; images, audio and files cannot',
        params: { code: 'unsupported_value' },
      });
  })
  .pipe(
    z.strictObject(
      { type: z.literal('text'), text: z.string() },
      { error: unknownKey('a text part has type and text') },
    ),
  );

function unknownKey(allowed: string) {
  return (issue: { code?: string }): string | undefined =>
    issue.code === 'unrecognized_keys' ? `unknown parameter; remove it (${allowed})` : undefined;
}

const messageSchema = z.strictObject(
  {
    role: z.enum(['system', 'developer', 'user', 'assistant'], {
      error: 'role must be system, developer, user or assistant (tool messages are not supported)',
    }),
    content: z.union([z.string(), z.array(textPart).min(1)]),
  },
  { error: unknownKey('a message has role and content') },
);

const metadataSchema = z.record(z.string().max(64), z.string().max(512)).refine((m) => Object.keys(m).length <= 16, {
  message: 'at most 16 keys',
});

const requestSchema = z.strictObject(
  {
    model: z.string().min(1).max(128),
    messages: z
      .array(messageSchema)
      .min(1)
      .refine((messages) => messages.some((m) => m.role === 'user' || m.role === 'assistant'), {
        message: 'at least one user or assistant message is required (system messages alone cannot be answered)',
      }),
    max_tokens: maxTokensSchema.nullish(),
    max_completion_tokens: maxTokensSchema.nullish(),
    temperature: temperatureSchema.nullish(),
    stream: z.boolean().nullish(),
    stream_options: z.strictObject({ include_usage: z.boolean().optional() }).nullish(),
    user: z.string().max(256).nullish(),
    metadata: metadataSchema.nullish(),
    // Without tools (refused above) it asks for nothing.
    parallel_tool_calls: z.boolean().nullish(),
    ...Object.fromEntries(Object.keys(NEUTRAL).map((key) => [key, z.unknown().optional()])),
  },
  {
    error: unknownKey(
      'see the "Use it from any OpenAI client" section of the README for the parameters the router takes',
    ),
  },
);

/** The value at a zod issue's path in the body, to tell a missing parameter from a wrong one. */
function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let value = body;
  for (const key of path) value = (value as Record<PropertyKey, unknown> | null | undefined)?.[key];
  return value;
}

interface Problem {
  path: PropertyKey[];
  message: string;
  code: string;
}

/** The issues as problems, a string-or-parts union reported from the branch the value was meant for. */
function problemsOf(issues: readonly z.core.$ZodIssue[], body: unknown, prefix: PropertyKey[] = []): Problem[] {
  return issues.flatMap((issue): Problem[] => {
    const path = [...prefix, ...issue.path];
    switch (issue.code) {
      case 'unrecognized_keys':
        return issue.keys.map((key) => ({ path: [...path, key], message: issue.message, code: 'unknown_parameter' }));
      case 'invalid_union': {
        const branch = Array.isArray(valueAt(body, path)) ? issue.errors[1] : undefined;
        if (branch) return problemsOf(branch, body, path);
        return [{ path, message: 'must be a string or an array of text parts', code: 'invalid_type' }];
      }
      case 'custom':
        return [{ path, message: issue.message, code: String(issue.params?.code ?? 'invalid_value') }];
      case 'invalid_type':
        return valueAt(body, path) === undefined
          ? [{ path, message: 'missing required parameter', code: 'missing_required_parameter' }]
          : [{ path, message: issue.message, code: 'invalid_type' }];
      default:
        return [{ path, message: issue.message, code: 'invalid_value' }];
    }
  });
}

function tenantOf(headers: Record<string, string | undefined>, user: string | null | undefined) {
  const header = headers[TENANT_HEADER];
  const [source, value] = header !== undefined ? [TENANT_HEADER, header] : ['user', user];
  if (value === undefined || value === null) {
    return invalid(
      null,
      `No tenant: send the ${TENANT_HEADER} header (or the "user" parameter) naming who the call is for.`,
      'missing_required_parameter',
    );
  }
  const parsed = tenantIdSchema.safeParse(value);
  return parsed.success
    ? parsed.data
    : invalid(source, `Invalid '${source}': ${parsed.error.issues[0]!.message}.`, 'invalid_value');
}

function timeoutOf(headers: Record<string, string | undefined>): number | undefined | OpenAiError {
  const header = headers[TIMEOUT_HEADER];
  if (header === undefined) return undefined;
  const parsed = timeoutMsSchema.safeParse(/^\d{1,9}$/.test(header.trim()) ? Number(header.trim()) : NaN);
  return parsed.success
    ? parsed.data
    : invalid(
        TIMEOUT_HEADER,
        `Invalid '${TIMEOUT_HEADER}': an integer from 100 to 900000 (milliseconds).`,
        'invalid_value',
      );
}

/** A Chat Completions request as the router takes it, and how the answer is to be sent. */
export type ChatRequest = Omit<CallInput, 'requestId'> & {
  stream: boolean;
  /** `stream_options.include_usage`: a last chunk with the usage. */
  includeUsage: boolean;
};

/** The router's request from an OpenAI one, or the 400 that names the first parameter it cannot honour. */
export function parseChatRequest(
  body: unknown,
  headers: Record<string, string | undefined>,
): ChatRequest | OpenAiError {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return invalid(null, 'The request body must be a JSON object with model and messages.', 'invalid_type');
  }
  for (const [param, neutral] of Object.entries(NEUTRAL)) {
    const value = (body as Record<string, unknown>)[param];
    if (Object.hasOwn(body, param) && value !== null && !neutral.accepts(value)) {
      // A parameter with no neutral value is unsupported as such; otherwise it is the value that is.
      return neutral.accepts === never
        ? invalid(param, `Unsupported parameter '${param}': ${neutral.why}.`, 'unsupported_parameter')
        : invalid(param, `Unsupported value for '${param}': ${neutral.why}.`, 'unsupported_value');
    }
  }
  const parsed = requestSchema.safeParse(body);
  if (!parsed.success) {
    const problems = problemsOf(parsed.error.issues, body);
    const first = problems[0]!;
    const lines = problems.map((p) => `'${fieldPath(p.path)}': ${p.message}`);
    return invalid(fieldPath(first.path), `Invalid request: ${lines.join('; ')}.`, first.code);
  }
  const request = parsed.data;
  if (
    request.max_tokens != null &&
    request.max_completion_tokens != null &&
    request.max_tokens !== request.max_completion_tokens
  ) {
    return invalid(
      'max_tokens',
      'Send max_tokens or max_completion_tokens, not both with different values.',
      'invalid_value',
    );
  }
  const stream = request.stream === true;
  if (!stream && request.stream_options != null) {
    // As OpenAI answers: stream options ask for a stream.
    return invalid(
      'stream_options',
      "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
      'invalid_value',
    );
  }
  const tenantId = tenantOf(headers, request.user);
  if (typeof tenantId !== 'string') return tenantId;
  const timeoutMs = timeoutOf(headers);
  if (typeof timeoutMs === 'object') return timeoutMs;
  return {
    tenantId,
    group: request.model,
    messages: request.messages.map((m) => ({
      role: m.role === 'developer' ? 'system' : m.role,
      // Parts are one text to every provider; a line between them keeps words apart.
      content: typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join('\n'),
    })),
    maxTokens: request.max_completion_tokens ?? request.max_tokens ?? undefined,
    temperature: request.temperature ?? undefined,
    timeoutMs,
    stream,
    includeUsage: stream && request.stream_options?.include_usage === true,
  };
}
