// `POST /v1/chat/completions` and `GET /v1/models`: the OpenAI API over the same router call as `POST /complete`.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type OpenAI from 'openai';
import type { FunctionUrlResult } from './app.ts';
import { parseChatRequest, type ChatRequest, type OpenAiError } from './openai-request.ts';
import { chatCompletionChunks } from './openai-stream.ts';
import {
  json,
  publicAttempts,
  readJsonBody,
  routeCall,
  type CallDeps,
  type CallOutcome,
  type Route,
} from './routed-call.ts';
import { routeStreamCall } from './streamed-call.ts';
import type { Attempt } from './router/router.ts';
import { MAX_BODY_BYTES } from '../common/complete-contract.ts';

type Result = APIGatewayProxyStructuredResultV2;

function errorResult(error: OpenAiError, requestId: string, headers: Record<string, string> = {}, extra = {}): Result {
  const { status, message, type, param, code } = error;
  return json(status, { error: { message, type, param, code, ...extra } }, requestId, headers);
}

const BODY_PROBLEMS = {
  empty: 'The request body is empty: send a JSON object with model and messages.',
  not_json: 'The request body is not valid JSON: send a JSON object with model and messages.',
};

type Answered = Extract<CallOutcome, { ok: true }>;

/** OpenAI's answer: `other` is `stop` (its clients know only their own reasons); a refusal is `refusal`, not content. */
function completion(result: Answered, requestId: string, createdS: number): OpenAI.ChatCompletion {
  const { content, usage, finishReason } = result.answer;
  const refused = finishReason === 'content_filter';
  const { prompt_tokens: prompt, completion_tokens: completionTokens } = usage;
  return {
    id: `chatcmpl-${requestId}`,
    object: 'chat.completion',
    created: createdS,
    model: result.deployment.id,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: refused ? null : content, refusal: refused ? content || null : null },
        logprobs: null,
        finish_reason: finishReason === 'other' ? 'stop' : finishReason,
      },
    ],
    // OpenAI's `usage` is optional but its counts are numbers: an unknown count leaves usage out, never a made-up 0.
    ...(prompt !== null &&
      completionTokens !== null && {
        usage: { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens },
      }),
  };
}

/** Every deployment failed before an answer began: the router has already retried, so the client should not. */
function unavailable(failure: { attempts: Attempt[]; retryAfterS?: number }, requestId: string): Result {
  // A client's own retries would multiply the attempts, unless a cooldown ends.
  const retry: Record<string, string> =
    failure.retryAfterS !== undefined ? { 'retry-after': String(failure.retryAfterS) } : { 'x-should-retry': 'false' };
  return errorResult(
    {
      status: 503,
      message: 'All providers unavailable',
      type: 'server_error',
      param: null,
      code: 'all_providers_unavailable',
    },
    requestId,
    retry,
    { attempts: publicAttempts(failure.attempts) },
  );
}

/** Who answered, for the caller: the same headers streamed or not (a stream's cost is not known yet). */
function konstructHeaders(
  answered: { group: string; deployment: { id: string }; attempts: number },
  requested: string,
): Record<string, string> {
  return {
    'x-konstruct-group': answered.group,
    'x-konstruct-deployment': answered.deployment.id,
    'x-konstruct-fallback': String(answered.group !== requested),
    'x-konstruct-attempts': String(answered.attempts),
  };
}

/** The OpenAI API's routes, sharing `POST /complete`'s router call and cost record. */
export function openAiRoutes(call: CallDeps): Record<string, Route> {
  /** Models have no creation date of their own here: the instance's start stands in for it. */
  const startedS = Math.floor(call.now() / 1000);

  /**
   * A streamed answer: the status line and headers go out with the first delta, once the router has an
   * answering deployment; until then every failure is the ordinary JSON error. The cost header is left
   * out: the cost is known only when the stream ends (the cost record has it).
   */
  async function streamed(
    input: ChatRequest,
    context: Context,
    requestId: string,
    clientGone: AbortSignal | undefined,
  ): Promise<FunctionUrlResult> {
    const abort = new AbortController();
    // Until the body exists only the entry can tell that the caller left: the router's wait ends at once.
    if (clientGone?.aborted) abort.abort();
    else clientGone?.addEventListener('abort', () => abort.abort(), { once: true, signal: abort.signal });
    const started = await routeStreamCall(call, { requestId, ...input }, context, abort.signal);
    if (!started.ok) return unavailable(started, requestId);
    const body = chatCompletionChunks({
      call: started,
      requestId,
      createdS: Math.floor(call.now() / 1000),
      includeUsage: input.includeUsage,
      abort,
    });
    return {
      statusCode: 200,
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        'x-request-id': requestId,
        ...konstructHeaders(started, input.group),
      },
      stream: body,
    };
  }

  async function chatCompletions(
    event: APIGatewayProxyEventV2,
    context: Context,
    requestId: string,
    clientGone?: AbortSignal,
  ): Promise<FunctionUrlResult> {
    const reading = readJsonBody(event);
    if (!reading.ok) {
      if (reading.problem === 'too_large') {
        const message = `The request body is ${reading.bytes} bytes; the limit is ${MAX_BODY_BYTES} bytes (1 MiB). Send fewer or shorter messages.`;
        return errorResult(
          { status: 413, message, type: 'invalid_request_error', param: null, code: 'request_too_large' },
          requestId,
        );
      }
      const message = BODY_PROBLEMS[reading.problem];
      return errorResult({ status: 400, message, type: 'invalid_request_error', param: null, code: null }, requestId);
    }
    const input = parseChatRequest(reading.body, event.headers ?? {});
    if ('status' in input) return errorResult(input, requestId);
    if (!call.router.hasGroup(input.group)) {
      const message = `The model group "${input.group.slice(0, 128)}" does not exist. Known groups: ${call.router.groups.join(', ')}.`;
      return errorResult(
        { status: 404, message, type: 'invalid_request_error', param: 'model', code: 'model_not_found' },
        requestId,
      );
    }
    if (input.stream) return streamed(input, context, requestId, clientGone);
    const result = await routeCall(call, { requestId, ...input }, context);
    if (!result.ok) return unavailable(result, requestId);
    return json(200, completion(result, requestId, Math.floor(call.now() / 1000)), requestId, {
      ...konstructHeaders(result, input.group),
      ...(result.costUsd !== undefined && { 'x-konstruct-cost-usd': String(result.costUsd) }),
    });
  }

  function models(_event: APIGatewayProxyEventV2, _context: Context, requestId: string): Result {
    const data = call.router.groups.map((id): OpenAI.Model => ({
      id,
      object: 'model',
      created: startedS,
      owned_by: 'konstruct',
    }));
    return json(200, { object: 'list', data }, requestId);
  }

  const wrongMethod =
    (allowed: string) =>
    (method: string, path: string, requestId: string): Result =>
      errorResult(
        {
          status: 405,
          message: `${method} is not allowed on ${path}; use ${allowed}.`,
          type: 'invalid_request_error',
          param: null,
          code: 'method_not_allowed',
        },
        requestId,
        { allow: allowed },
      );

  return {
    '/v1/chat/completions': { method: 'POST', run: chatCompletions, wrongMethod: wrongMethod('POST') },
    '/v1/models': { method: 'GET', run: models, wrongMethod: wrongMethod('GET') },
  };
}
