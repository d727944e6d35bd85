// `POST /v1/chat/completions` and `GET /v1/models`: the OpenAI API over the same router call as `POST /complete`.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type OpenAI from 'openai';
import { parseChatRequest, type OpenAiError } from './openai-request.ts';
import {
  json,
  publicAttempts,
  readJsonBody,
  routeCall,
  type CallDeps,
  type CallOutcome,
  type Route,
} from './routed-call.ts';
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

/** The OpenAI API's routes, sharing `POST /complete`'s router call and cost record. */
export function openAiRoutes(call: CallDeps): Record<string, Route> {
  /** Models have no creation date of their own here: the instance's start stands in for it. */
  const startedS = Math.floor(call.now() / 1000);

  async function chatCompletions(event: APIGatewayProxyEventV2, context: Context, requestId: string): Promise<Result> {
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
    const result = await routeCall(call, { requestId, ...input }, context);
    if (!result.ok) {
      // The router has already retried: a client's own retries would multiply the attempts, unless a cooldown ends.
      const retry: Record<string, string> =
        result.retryAfterS !== undefined
          ? { 'retry-after': String(result.retryAfterS) }
          : { 'x-should-retry': 'false' };
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
        { attempts: publicAttempts(result.attempts) },
      );
    }
    return json(200, completion(result, requestId, Math.floor(call.now() / 1000)), requestId, {
      'x-konstruct-group': result.group,
      'x-konstruct-deployment': result.deployment.id,
      'x-konstruct-fallback': String(result.group !== input.group),
      'x-konstruct-attempts': String(result.attempts),
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
