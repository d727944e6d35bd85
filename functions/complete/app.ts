// The `complete` Function URL shell (payload format 2.0): HTTP in, router call, HTTP out.
// `handler.ts` is the Lambda entry that builds it once per cold start.
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { loadRouterConfig, type LoadedConfig } from './config.ts';
import { callRecord } from './cost.ts';
import { credentialsFromEnvironment, type Credentials } from './credentials.ts';
import { Deadline } from './deadline.ts';
import { providerCache } from './providers/index.ts';
import { Router, type Attempt } from './router/router.ts';
import {
  DEFAULT_TIMEOUT_MS,
  MAX_BODY_BYTES,
  completeRequestSchema,
  type CompleteResponse,
} from '../common/complete-contract.ts';
import { describeIssues } from '../common/field-problems.ts';
import { createLogger, RecordLog } from '../common/telemetry.ts';

export type FunctionUrlEvent = APIGatewayProxyEventV2;
export type FunctionUrlResult = APIGatewayProxyStructuredResultV2;

/** Time kept back from the Lambda's remaining time so the answer is sent before the function is stopped. */
const LAMBDA_MARGIN_MS = 1_000;

export interface CompleteDeps {
  router: Router;
  credentials: Credentials;
  /** Where the per-call cost records go (one line each, batched per event-loop turn). */
  records: RecordLog;
  /** The clock deadlines and cooldowns are measured by (the router's own); tests pass one they move. */
  now?: () => number;
}

function json(
  status: number,
  body: unknown,
  requestId: string,
  headers: Record<string, string> = {},
): FunctionUrlResult {
  return {
    statusCode: status,
    headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...headers },
    body: JSON.stringify(body),
  };
}

/** The attempts as the 503 shows them: no error codes or provider request ids, only what a caller can act on. */
function publicAttempts(attempts: Attempt[]) {
  return attempts.map(({ group, deployment, outcome, status, reason }) => ({
    group,
    deployment,
    outcome,
    ...(status !== undefined && { status }),
    ...(reason && { reason }),
  }));
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

export function createHandler({ router, credentials, records, now = Date.now }: CompleteDeps) {
  async function complete(event: FunctionUrlEvent, context: Context, requestId: string): Promise<FunctionUrlResult> {
    const raw = event.body ?? '';
    const bytes = event.isBase64Encoded ? Math.floor((raw.length * 3) / 4) : Buffer.byteLength(raw, 'utf8');
    if (bytes > MAX_BODY_BYTES) {
      return json(
        413,
        {
          error: `Request body is ${bytes} bytes; the limit is ${MAX_BODY_BYTES} bytes (1 MiB). Send fewer or shorter messages.`,
        },
        requestId,
      );
    }
    const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
    if (!text.trim()) {
      return json(
        400,
        { error: 'Request body is empty: send a JSON object with model, messages and tenant_id.' },
        requestId,
      );
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      return json(
        400,
        { error: 'Request body is not valid JSON: send a JSON object with model, messages and tenant_id.' },
        requestId,
      );
    }
    const parsed = completeRequestSchema.safeParse(body);
    if (!parsed.success) {
      const details = describeIssues(parsed.error);
      return json(
        400,
        { error: `Invalid request: ${details.map((d) => d.field).join(', ')}. See details.`, details },
        requestId,
      );
    }
    const request = parsed.data;
    if (!router.hasGroup(request.model)) {
      const known = router.groups;
      return json(
        400,
        { error: `Unknown model group "${request.model}". Known groups: ${known.join(', ')}.`, known_groups: known },
        requestId,
      );
    }

    const started = now();
    const deadline = Deadline.after(
      Math.min(request.timeout_ms ?? DEFAULT_TIMEOUT_MS, context.getRemainingTimeInMillis() - LAMBDA_MARGIN_MS),
      now,
    );
    if (credentials.refreshes) await refreshWithin(credentials, deadline); // no timer per call for fixed keys
    const result = await router.route({
      group: request.model,
      messages: request.messages,
      maxTokens: request.max_tokens,
      temperature: request.temperature,
      deadline,
    });
    const latencyMs = now() - started;

    if (!result.ok) {
      records.info(
        'completion',
        callRecord({
          requestId,
          tenantId: request.tenant_id,
          group: request.model,
          outcome: 'unavailable',
          latencyMs,
          attempts: result.attempts,
        }),
      );
      return json(
        503,
        { error: 'All providers unavailable', attempts: publicAttempts(result.attempts) },
        requestId,
        result.retryAfterS !== undefined ? { 'retry-after': String(result.retryAfterS) } : {},
      );
    }
    const record = callRecord({
      requestId,
      tenantId: request.tenant_id,
      group: request.model,
      outcome: 'answered',
      deployment: result.deployment,
      answeredGroup: result.group,
      usage: result.answer.usage,
      latencyMs,
      attempts: result.attempts,
    });
    records.info('completion', record);
    const answer: CompleteResponse = {
      content: result.answer.content,
      model: result.deployment.id,
      usage: result.answer.usage,
      finish_reason: result.answer.finishReason,
      model_group: result.group,
      fallback: result.group !== request.model,
      attempts: record.Attempts,
      latency_ms: latencyMs,
      ...(record.cost_known ? { cost_usd: record.CostUSD } : {}),
    };
    return json(200, answer, requestId);
  }

  const routes: Record<
    string,
    {
      method: string;
      run: (e: FunctionUrlEvent, c: Context, id: string) => Promise<FunctionUrlResult> | FunctionUrlResult;
    }
  > = {
    '/complete': { method: 'POST', run: complete },
    '/health': {
      method: 'GET',
      run: async (_e, _c, id) => {
        await credentials.refresh(); // a filled-in provider secret shows up here too
        return json(200, { status: 'ok', deployments: router.health() }, id);
      },
    },
  };

  return middy<FunctionUrlEvent, FunctionUrlResult>().handler(async (event, context) => {
    const requestId = context.awsRequestId;
    const path = event.rawPath.length > 1 ? event.rawPath.replace(/\/+$/, '') : event.rawPath;
    const route = routes[path];
    if (!route) {
      return json(404, { error: `No route for ${path}. Use POST /complete or GET /health.` }, requestId);
    }
    const method = event.requestContext.http.method.toUpperCase();
    if (method !== route.method) {
      return json(405, { error: `${method} is not allowed on ${path}; use ${route.method}.` }, requestId, {
        allow: route.method,
      });
    }
    return route.run(event, context, requestId);
  });
}

/** Everything a cold start builds once: configuration, credentials, provider clients, router state. */
export function createDepsFromEnvironment(
  env: NodeJS.ProcessEnv = process.env,
  loaded: LoadedConfig = loadRouterConfig(env),
  clock: { now?: () => number } = {},
): CompleteDeps {
  const logger = createLogger('complete');
  if (loaded.ignoredKeys.length > 0) {
    logger.warn(`LLM_CONFIG keys ignored (not acted on): ${loaded.ignoredKeys.join(', ')}`, {
      ignored_keys: loaded.ignoredKeys,
    });
  }
  const credentials = credentialsFromEnvironment(env, (err) =>
    logger.warn('provider secret could not be read; keeping the last keys', { error: (err as Error)?.message }),
  );
  const router = new Router({
    config: loaded.config,
    keyFor: (d) => credentials.keyFor(d),
    providerFor: providerCache(),
    now: clock.now,
  });
  return { router, credentials, records: new RecordLog(logger, 'complete'), now: clock.now };
}
