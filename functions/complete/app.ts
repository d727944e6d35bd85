// The `complete` Function URL shell (payload format 2.0): HTTP in, router call, HTTP out.
// `handler.ts` is the Lambda entry that builds it once per cold start.
import type { Readable, Writable } from 'node:stream';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { loadRouterConfig, type LoadedConfig } from './config.ts';
import { credentialsFromEnvironment, type Credentials } from './credentials.ts';
import { openAiRoutes } from './openai-api.ts';
import { providerCache } from './providers/index.ts';
import { json, publicAttempts, readJsonBody, routeCall, type CallDeps, type Route } from './routed-call.ts';
import { Router } from './router/router.ts';
import { MAX_BODY_BYTES, completeRequestSchema, type CompleteResponse } from '../common/complete-contract.ts';
import { describeIssues } from '../common/field-problems.ts';
import { createLogger, RecordLog } from '../common/telemetry.ts';

export type FunctionUrlEvent = APIGatewayProxyEventV2;
export type FunctionUrlResult = APIGatewayProxyStructuredResultV2 & {
  /** A body sent as it comes (server-sent events) instead of `body`: only the streaming entry can send it. */
  stream?: Readable;
};
/** `clientGone` aborts when the caller goes away, where the runtime lets the function see it (streaming, locally). */
export type CompleteHandler = (
  event: FunctionUrlEvent,
  context: Context,
  clientGone?: AbortSignal,
) => Promise<FunctionUrlResult>;

export interface CompleteDeps {
  router: Router;
  credentials: Credentials;
  /** Where the per-call cost records go (one line each, batched per event-loop turn). */
  records: RecordLog;
  /** The clock deadlines and cooldowns are measured by (the router's own); tests pass one they move. */
  now?: () => number;
}

/**
 * The plain `(event, context) → result` core: every answer of `complete`, a streamed one with its body in
 * `stream`. Tests and the CPU benchmark call it as the Lambda runtime calls a buffered handler.
 */
export function createHandler({ router, credentials, records, now = Date.now }: CompleteDeps): CompleteHandler {
  const call: CallDeps = { router, credentials, records, now };

  async function complete(event: FunctionUrlEvent, context: Context, requestId: string): Promise<FunctionUrlResult> {
    const reading = readJsonBody(event);
    if (!reading.ok) {
      if (reading.problem === 'too_large') {
        return json(
          413,
          {
            error: `Request body is ${reading.bytes} bytes; the limit is ${MAX_BODY_BYTES} bytes (1 MiB). Send fewer or shorter messages.`,
          },
          requestId,
        );
      }
      const what = reading.problem === 'empty' ? 'empty' : 'not valid JSON';
      return json(
        400,
        { error: `Request body is ${what}: send a JSON object with model, messages and tenant_id.` },
        requestId,
      );
    }
    const parsed = completeRequestSchema.safeParse(reading.body);
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

    const result = await routeCall(
      call,
      {
        requestId,
        tenantId: request.tenant_id,
        group: request.model,
        messages: request.messages,
        maxTokens: request.max_tokens,
        temperature: request.temperature,
        timeoutMs: request.timeout_ms,
      },
      context,
    );
    if (!result.ok) {
      return json(
        503,
        { error: 'All providers unavailable', attempts: publicAttempts(result.attempts) },
        requestId,
        result.retryAfterS !== undefined ? { 'retry-after': String(result.retryAfterS) } : {},
      );
    }
    const answer: CompleteResponse = {
      content: result.answer.content,
      model: result.deployment.id,
      usage: result.answer.usage,
      finish_reason: result.answer.finishReason,
      model_group: result.group,
      fallback: result.group !== request.model,
      attempts: result.attempts,
      latency_ms: result.latencyMs,
      ...(result.costUsd !== undefined ? { cost_usd: result.costUsd } : {}),
    };
    return json(200, answer, requestId);
  }

  const routes: Record<string, Route> = {
    '/complete': { method: 'POST', run: complete },
    '/health': {
      method: 'GET',
      run: async (_e, _c, id) => {
        await credentials.refresh(); // a filled-in provider secret shows up here too
        return json(200, { status: 'ok', deployments: router.health() }, id);
      },
    },
    ...openAiRoutes(call),
  };

  return async (event, context, clientGone) => {
    const requestId = context.awsRequestId;
    const path = event.rawPath.length > 1 ? event.rawPath.replace(/\/+$/, '') : event.rawPath;
    const route = routes[path];
    if (!route) {
      return json(
        404,
        {
          error: `No route for ${path}. Use POST /complete, GET /health, POST /v1/chat/completions or GET /v1/models.`,
        },
        requestId,
      );
    }
    const method = event.requestContext.http.method.toUpperCase();
    if (method !== route.method) {
      if (route.wrongMethod) return route.wrongMethod(method, path, requestId);
      return json(405, { error: `${method} is not allowed on ${path}; use ${route.method}.` }, requestId, {
        allow: route.method,
      });
    }
    return route.run(event, context, requestId, clientGone);
  };
}

/**
 * The Lambda entry: the core in middy's streaming execution mode (Function URL invoke mode
 * RESPONSE_STREAM). Middy writes each answer's status and headers as the HTTP-integration prelude, then
 * its body (a string, or the stream as it comes), so buffered answers keep their exact shape. It needs
 * the `awslambda` global the Lambda Node.js runtime provides (locally: local/awslambda-global.ts).
 *
 * A response stream destroyed before its end means the caller went away (locally; in Lambda a client
 * disconnect does not reach the function): the core hears of it at once, even while the router is still
 * waiting for a first token and no body exists yet that could be destroyed.
 */
export function streamingEntry(core: CompleteHandler): StreamingEntry {
  // Middy hands its handler only the event and the context: the caller's signal travels by the context.
  const clientGone = new WeakMap<Context, AbortSignal>();
  const viaMiddy = middy<FunctionUrlEvent, APIGatewayProxyStructuredResultV2 | { body: Readable }>({
    streamifyResponse: true,
  }).handler(async (event, context) => {
    const { stream, ...result } = await core(event, context, clientGone.get(context));
    return stream ? { ...result, body: stream } : result;
  }) as unknown as StreamingEntry; // middy's types describe only its buffered signature
  const entry: StreamingEntry = (event, responseStream, context) => {
    const gone = new AbortController();
    responseStream.once('close', () => {
      if (!responseStream.writableFinished) gone.abort();
    });
    clientGone.set(context, gone.signal);
    return viaMiddy(event, responseStream, context);
  };
  return awslambda.streamifyResponse(entry as never) as unknown as StreamingEntry;
}

/** How the Lambda runtime calls a handler marked by `awslambda.streamifyResponse`. */
export type StreamingEntry = (event: FunctionUrlEvent, responseStream: Writable, context: Context) => Promise<void>;

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
