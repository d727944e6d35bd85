// The one path every API of `complete` takes to the router: read the body, bound the request, route, record its cost.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Deployment } from './config.ts';
import { callRecord } from './cost.ts';
import type { Credentials } from './credentials.ts';
import { Deadline } from './deadline.ts';
import type { ProviderAnswer } from './providers/provider.ts';
import type { Attempt, Router } from './router/router.ts';
import { DEFAULT_TIMEOUT_MS, MAX_BODY_BYTES, type ChatMessage } from '../common/complete-contract.ts';
import type { RecordLog } from '../common/telemetry.ts';

/** Time kept back from the Lambda's remaining time so the answer is sent before the function is stopped. */
const LAMBDA_MARGIN_MS = 1_000;

/** One path of the Function URL: its method, and its own answer to another method when its API words errors its own way. */
export interface Route {
  method: string;
  run: (
    event: APIGatewayProxyEventV2,
    context: Context,
    requestId: string,
    /** Aborts when the caller goes away (only where the runtime lets the function see it). */
    clientGone?: AbortSignal,
  ) => Promise<APIGatewayProxyStructuredResultV2> | APIGatewayProxyStructuredResultV2;
  wrongMethod?: (method: string, path: string, requestId: string) => APIGatewayProxyStructuredResultV2;
}

/** A JSON answer with the request id every answer carries. */
export function json(
  status: number,
  body: unknown,
  requestId: string,
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...headers },
    body: JSON.stringify(body),
  };
}

/** The attempts as a 503 shows them: no error codes or provider request ids, only what a caller can act on. */
export function publicAttempts(attempts: Attempt[]) {
  return attempts.map(({ group, deployment, outcome, status, reason }) => ({
    group,
    deployment,
    outcome,
    ...(status !== undefined && { status }),
    ...(reason && { reason }),
  }));
}

/** A request body as JSON, or why it is none (each API words the error its own way). */
export type BodyReading =
  | { ok: true; body: unknown }
  | { ok: false; problem: 'too_large'; bytes: number }
  | { ok: false; problem: 'empty' | 'not_json' };

export function readJsonBody(event: APIGatewayProxyEventV2): BodyReading {
  const raw = event.body ?? '';
  const bytes = event.isBase64Encoded ? Math.floor((raw.length * 3) / 4) : Buffer.byteLength(raw, 'utf8');
  if (bytes > MAX_BODY_BYTES) return { ok: false, problem: 'too_large', bytes };
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (!text.trim()) return { ok: false, problem: 'empty' };
  try {
    return { ok: true, body: JSON.parse(text) };
  } catch {
    return { ok: false, problem: 'not_json' };
  }
}

/** What a validated request asks of the router, whichever API it came through. */
export interface CallInput {
  requestId: string;
  tenantId: string;
  group: string;
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  timeoutMs?: number;
}

export type CallOutcome =
  | {
      ok: true;
      answer: ProviderAnswer;
      deployment: Deployment;
      /** The group that answered (a fallback group when it is not the one asked for). */
      group: string;
      /** Attempts made (skipped deployments not counted). */
      attempts: number;
      latencyMs: number;
      /** Undefined when the price or a priced token count is unknown. */
      costUsd?: number;
    }
  | { ok: false; attempts: Attempt[]; retryAfterS?: number };

export interface CallDeps {
  router: Router;
  credentials: Credentials;
  records: RecordLog;
  now: () => number;
}

/**
 * Brings the keys up to date, waiting at most half the request's time: a slow Secrets Manager read
 * finishes in the background and the request routes with the keys it has.
 */
async function refreshWithin(credentials: Credentials, deadline: Deadline): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const expiry = new Promise<void>((resolve) => (timer = setTimeout(resolve, deadline.remaining() / 2)));
  await Promise.race([credentials.refresh(), expiry]);
  clearTimeout(timer);
}

/** The request's deadline, with the keys brought up to date within it: what every call does before routing. */
export async function beginCall(
  { credentials, now }: CallDeps,
  input: CallInput,
  context: Context,
): Promise<{ started: number; deadline: Deadline }> {
  const started = now();
  const deadline = Deadline.after(
    Math.min(input.timeoutMs ?? DEFAULT_TIMEOUT_MS, context.getRemainingTimeInMillis() - LAMBDA_MARGIN_MS),
    now,
  );
  if (credentials.refreshes) await refreshWithin(credentials, deadline); // no timer per call for fixed keys
  return { started, deadline };
}

/** Routes one request within its deadline and writes its cost record, answered or not. */
export async function routeCall(deps: CallDeps, input: CallInput, context: Context): Promise<CallOutcome> {
  const { router, records, now } = deps;
  const { started, deadline } = await beginCall(deps, input, context);
  const result = await router.route({
    group: input.group,
    messages: input.messages,
    maxTokens: input.maxTokens,
    temperature: input.temperature,
    deadline,
  });
  const latencyMs = now() - started;
  const summary = { requestId: input.requestId, tenantId: input.tenantId, group: input.group, latencyMs };

  if (!result.ok) {
    records.info('completion', callRecord({ ...summary, outcome: 'unavailable', attempts: result.attempts }));
    return result;
  }
  const record = callRecord({
    ...summary,
    outcome: 'answered',
    deployment: result.deployment,
    answeredGroup: result.group,
    usage: result.answer.usage,
    attempts: result.attempts,
  });
  records.info('completion', record);
  return {
    ok: true,
    answer: result.answer,
    deployment: result.deployment,
    group: result.group,
    attempts: record.Attempts,
    latencyMs,
    ...(record.cost_known && { costUsd: record.CostUSD }),
  };
}
