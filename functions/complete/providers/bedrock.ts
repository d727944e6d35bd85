// Amazon Bedrock's Converse and ConverseStream APIs over the official `@aws-sdk/client-bedrock-runtime`: IAM auth,
// the router's own retries.
import type {
  BedrockRuntimeClient,
  BedrockRuntimeClientConfig,
  ConverseCommandInput,
  ConverseCommandOutput,
  TokenUsage,
} from '@aws-sdk/client-bedrock-runtime';
import { answerStream } from './answer-stream.ts';
import type { ChatMessage } from '../../common/complete-contract.ts';
import { ANTHROPIC_DEFAULT_MAX_TOKENS, toAnthropicMessages } from './anthropic.ts';
import {
  answerFailure,
  kindOfStatus,
  loggableCode,
  ProviderError,
  transportFailure,
  type FailureKind,
} from './failure.ts';
import { httpFetch, isStreamedResponse, responseBodyErrorIn } from './http-fetch.ts';
import {
  tokenCount,
  type FinishReason,
  type Provider,
  type ProviderAnswer,
  type ProviderCall,
  type ProviderDescriptor,
  type StreamPiece,
} from './provider.ts';

/** As for Anthropic, whose models are most of what teams run on Bedrock. */
export const BEDROCK_DEFAULT_MAX_TOKENS = ANTHROPIC_DEFAULT_MAX_TOKENS;

/** The request Converse gets: all system messages joined as one block, consecutive same-role turns merged. */
export function toConverseRequest(
  call: Pick<ProviderCall, 'model' | 'messages' | 'maxTokens' | 'temperature'>,
): ConverseCommandInput {
  const { system, messages } = toAnthropicMessages(call.messages as readonly ChatMessage[]);
  return {
    modelId: call.model,
    ...(system !== undefined && { system: [{ text: system }] }),
    messages: messages.map((m) => ({ role: m.role, content: [{ text: m.content }] })),
    inferenceConfig: {
      maxTokens: call.maxTokens ?? BEDROCK_DEFAULT_MAX_TOKENS,
      // Bedrock's chat models take 0–1; OpenAI-style callers may send up to 2.
      ...(call.temperature !== undefined && { temperature: Math.min(1, call.temperature) }),
    },
  };
}

/** The request the SDK hands its HTTP handler (the fields of its `HttpRequest` this handler reads). */
interface SdkHttpRequest {
  method: string;
  protocol: string;
  hostname: string;
  port?: number;
  path: string;
  query?: Record<string, string | string[] | null>;
  headers: Record<string, string>;
  body?: unknown;
}

function urlOf(request: SdkHttpRequest): string {
  // Percent-encoded as SigV4 signed it (URLSearchParams would turn spaces into `+`). Converse sends none.
  const pairs = Object.entries(request.query ?? {}).flatMap(([key, value]) =>
    (Array.isArray(value) ? value : [value ?? '']).map((v) => `${encodeURIComponent(key)}=${encodeURIComponent(v)}`),
  );
  const search = pairs.length > 0 ? `?${pairs.join('&')}` : '';
  return `${request.protocol}//${request.hostname}${request.port ? `:${request.port}` : ''}${request.path}${search}`;
}

/**
 * The SDK's HTTP handler over `httpFetch`: HTTP/1.1 keep-alive (the client's default is HTTP/2, for the
 * bidirectional streams neither Converse nor ConverseStream use), the response bounded as for every
 * provider, and the attempt's signal ending the request. ConverseStream's answer (an AWS event stream) is
 * handed to the SDK's event-stream parser as it arrives; any other is read whole first.
 */
export const bedrockRequestHandler = {
  metadata: { handlerProtocol: 'http/1.1' },
  async handle(request: SdkHttpRequest, options: { abortSignal?: unknown } = {}) {
    const signal = options.abortSignal instanceof AbortSignal ? options.abortSignal : null;
    const body = request.body;
    const response = await httpFetch(urlOf(request), {
      method: request.method,
      headers: request.headers,
      body: typeof body === 'string' || body instanceof Uint8Array ? body : undefined,
      signal,
    });
    const headers: Record<string, string> = {};
    response.headers.forEach((value, key) => (headers[key] = value));
    const answer = isStreamedResponse(response) ? response.body : new Uint8Array(await response.arrayBuffer());
    return { response: { statusCode: response.status, reason: response.statusText, headers, body: answer } };
  },
  updateHttpClientConfig(): void {},
  httpHandlerConfigs: () => ({}),
};

/** AWS error types by the class the router gives them; any other type is classified by its HTTP status. */
const KIND_OF_ERROR: Record<string, FailureKind> = {
  // Throttling clears by waiting; so does the account quota ("resubmit your request later", AWS says),
  // which is why it cools the deployment down like a 429 rather than for the long quota cooldown.
  ThrottlingException: 'rate_limited',
  ServiceQuotaExceededException: 'rate_limited',
  AccessDeniedException: 'auth',
  UnrecognizedClientException: 'auth',
  InvalidSignatureException: 'auth',
  IncompleteSignature: 'auth',
  InvalidClientTokenId: 'auth',
  MissingAuthenticationToken: 'auth',
  ExpiredToken: 'auth',
  ExpiredTokenException: 'auth',
  ValidationException: 'rejected',
  ResourceNotFoundException: 'not_found',
  // A 429 by status, but the model is loading: worth another try, not a rate limit.
  ModelNotReadyException: 'retryable',
  ModelTimeoutException: 'retryable',
  ModelErrorException: 'retryable',
  // ConverseStream's error event when the model fails mid-answer (424, as ModelErrorException).
  ModelStreamErrorException: 'retryable',
  InternalServerException: 'retryable',
  InternalFailure: 'retryable',
  ServiceUnavailableException: 'retryable',
  ServiceUnavailable: 'retryable',
};

/** What Bedrock (and the models behind it) say when the input does not fit the model's context window. */
const CONTEXT_LENGTH =
  /input is too long|prompt is too long|too many input tokens|input length and `?max_tokens`? exceed|exceeds? (?:the )?(?:model's )?(?:context|maximum context)|context (?:length|window) (?:limit|exceeded)/i;

/** The fields of an AWS SDK error this adapter reads; its message is read to classify only, never kept. */
interface AwsSdkError {
  name?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number; requestId?: string };
}

/** A ProviderError for what `send` threw: its class from the AWS error type, else the status; no provider text. */
export function bedrockFailure(err: unknown, signal: AbortSignal): ProviderError {
  const e = (err ?? {}) as AwsSdkError;
  const status = e.$metadata?.httpStatusCode;
  const requestId = loggableCode(e.$metadata?.requestId);
  if (typeof status !== 'number') {
    // The default chain found no credentials (none in the environment, the profile or the role): the
    // deployment cannot be called until that changes, as with a rejected key.
    if (e.name === 'CredentialsProviderError' && !signal.aborted)
      return new ProviderError({ kind: 'auth', code: 'no_credentials' });
    // An exception event that ConverseStream sent first: the SDK reads it before it hands the stream over,
    // and throws it with no status, as it does the ones inside the stream.
    if (typeof e.name === 'string' && Object.hasOwn(KIND_OF_ERROR, e.name))
      return bedrockStreamFailure(err, signal, requestId);
    return transportFailure(signal, responseBodyErrorIn(err)?.code);
  }
  // A 2xx whose body the SDK could not read: a Converse answer that is not JSON, or the first event of a
  // ConverseStream (which the SDK reads before it hands the stream over) that is an exception or unreadable.
  if (status >= 200 && status < 300) return bedrockStreamFailure(err, signal, requestId);
  const name = typeof e.name === 'string' ? e.name : undefined;
  const kind =
    (name !== undefined && Object.hasOwn(KIND_OF_ERROR, name) ? KIND_OF_ERROR[name] : undefined) ??
    kindOfStatus(status);
  const message = typeof e.message === 'string' ? e.message : '';
  const contextLength = kind === 'rejected' && (status === 413 || CONTEXT_LENGTH.test(message));
  const code = loggableCode(name);
  return new ProviderError({
    kind,
    status,
    ...(contextLength && { contextLength: true }),
    ...(code !== undefined && { code }),
    ...(requestId !== undefined && { requestId }),
  });
}

/**
 * What broke a ConverseStream once its answer had begun: an exception event (thrown by the SDK as its
 * modelled error, without a status) keeps the class of its AWS type; a cut or oversized body is the
 * transport's; anything else the SDK could not read (a frame that is no event, a payload that is not
 * JSON) makes the answer unreadable. None keeps the provider's text.
 */
function bedrockStreamFailure(err: unknown, signal: AbortSignal, requestId?: string): ProviderError {
  const name = (err as AwsSdkError | undefined)?.name;
  if (signal.aborted || responseBodyErrorIn(err)) return transportFailure(signal, responseBodyErrorIn(err)?.code);
  if (typeof name === 'string' && Object.hasOwn(KIND_OF_ERROR, name))
    return new ProviderError({ kind: KIND_OF_ERROR[name]!, code: name, ...(requestId !== undefined && { requestId }) });
  return answerFailure('response_not_json', requestId);
}

/** The usage in a stream's metadata event. */
function usageOf(usage: Partial<TokenUsage> | undefined) {
  return { prompt_tokens: tokenCount(usage?.inputTokens), completion_tokens: tokenCount(usage?.outputTokens) };
}

/**
 * A ConverseStream answer: each text delta as it comes (reasoning deltas are thinking, never content),
 * then one end piece once the stream closes after `messageStop`, with the usage of the `metadata` event
 * that follows it. A stream that closes before `messageStop` has no end piece: it was cut short.
 */
function streamConverse(ready: () => Promise<BedrockClient>, call: ProviderCall): AsyncIterable<StreamPiece> {
  /** The SDK has handed the event stream over: what fails now fails inside it. */
  let streaming = false;
  return answerStream(call, {
    async *pieces(signal) {
      streaming = false;
      const { sdk, client } = await ready();
      const command = new sdk.ConverseStreamCommand(toConverseRequest(call));
      const { stream: events } = await client.send(command, { abortSignal: signal });
      streaming = true;
      if (!events) throw answerFailure('response_empty');
      let stop: FinishReason | undefined;
      let usage: Partial<TokenUsage> | undefined;
      for await (const event of events) {
        const text = event.contentBlockDelta?.delta?.text;
        if (typeof text === 'string' && text) yield { type: 'content', text };
        if (event.messageStop) stop = finishReasonOf(event.messageStop.stopReason);
        if (event.metadata) usage = event.metadata.usage;
      }
      if (stop === undefined) return;
      yield { type: 'end', finishReason: stop, usage: usageOf(usage) };
    },
    // Before the stream: an HTTP error or none at all, as `complete` classifies them.
    failure: (err, signal) => (streaming ? bedrockStreamFailure(err, signal) : bedrockFailure(err, signal)),
  });
}

function finishReasonOf(reason: unknown): FinishReason {
  if (reason === 'end_turn' || reason === 'stop_sequence') return 'stop';
  if (reason === 'max_tokens' || reason === 'model_context_window_exceeded') return 'length';
  if (reason === 'guardrail_intervened' || reason === 'content_filtered') return 'content_filter';
  return 'other';
}

/** The answer in a Converse response, or the reason it is none: checked field by field, since a 200 may carry anything. */
export function toBedrockAnswer(response: Partial<ConverseCommandOutput>): ProviderAnswer {
  const requestId = response.$metadata?.requestId;
  // Neither output nor stop reason: not a Converse answer at all (an error object, say).
  if (response.output === undefined && response.stopReason === undefined)
    throw answerFailure('response_error', requestId);
  const content = response.output && 'message' in response.output ? response.output.message?.content : undefined;
  const text = Array.isArray(content)
    ? content.map((block) => (typeof block?.text === 'string' ? block.text : '')).join('')
    : '';
  const finishReason = finishReasonOf(response.stopReason);
  // A refusal comes first: a guardrail's blocked message arrives as the text, and may be all there is.
  if (!text && finishReason !== 'content_filter' && finishReason !== 'length')
    throw answerFailure('response_empty', requestId);
  const usage = response.usage;
  return {
    content: text,
    usage: { prompt_tokens: tokenCount(usage?.inputTokens), completion_tokens: tokenCount(usage?.outputTokens) },
    finishReason,
  };
}

export interface BedrockOptions {
  /** `aws_region_name`; else the SDK's own (`AWS_REGION`, the profile). */
  region?: string;
  /** `api_base` or `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`; else the region's endpoint, as the SDK finds it. */
  endpoint?: string;
  /** Tests inject static ones; otherwise the SDK's default chain (the function's role in AWS). */
  credentials?: BedrockRuntimeClientConfig['credentials'];
}

type BedrockSdk = typeof import('@aws-sdk/client-bedrock-runtime');
interface BedrockClient {
  sdk: BedrockSdk;
  client: BedrockRuntimeClient;
}

/**
 * The SDK, imported on the first Bedrock call: it takes about 80 ms to import, which every cold start of a
 * configuration without Bedrock would otherwise pay.
 */
let sdkImport: Promise<BedrockSdk> | undefined;
const loadSdk = () => (sdkImport ??= import('@aws-sdk/client-bedrock-runtime'));

export function bedrockProvider(options: BedrockOptions = {}): Provider {
  let made: Promise<BedrockClient> | undefined;
  const ready = () =>
    (made ??= loadSdk().then((sdk) => ({
      sdk,
      client: new sdk.BedrockRuntimeClient({
        ...(options.region !== undefined && { region: options.region }),
        ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
        ...(options.credentials !== undefined && { credentials: options.credentials }),
        // The router alone retries: one SDK attempt per router attempt.
        maxAttempts: 1,
        requestHandler: bedrockRequestHandler,
      }),
    })));
  return {
    async complete(call: ProviderCall): Promise<ProviderAnswer> {
      let response: ConverseCommandOutput;
      try {
        const { sdk, client } = await ready();
        response = await client.send(new sdk.ConverseCommand(toConverseRequest(call)), { abortSignal: call.signal });
      } catch (err) {
        throw bedrockFailure(err, call.signal);
      }
      return toBedrockAnswer(response);
    },
    stream: (call) => streamConverse(ready, call),
  };
}

/** The client options a deployment gives: its region and, when one is configured, its endpoint. */
export function bedrockOptionsOf(deployment: { apiBase: string; params: { region?: string } }): BedrockOptions {
  return {
    ...(deployment.params.region !== undefined && { region: deployment.params.region }),
    ...(deployment.apiBase !== '' && { endpoint: deployment.apiBase }),
  };
}

/** An AWS region's name: `us-east-1`, `eu-central-2`, `us-gov-west-1`, `ap-southeast-5`. */
const AWS_REGION = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;

export const bedrock: ProviderDescriptor<'bedrock'> = {
  name: 'bedrock',
  // LiteLLM's `bedrock/converse/<model>` asks for the Converse route, the only one here.
  prefixes: ['bedrock/converse/', 'bedrock/'],
  baseUrlVariable: 'AWS_ENDPOINT_URL_BEDROCK_RUNTIME',
  defaultBaseUrl: undefined,
  // The stack scopes its Bedrock grants to these at synth: they are read from the file as written.
  literalParams: ['model', 'aws_region_name'],
  // Prices vary by region and model; the file gives them, else they are unknown.
  pricePerMTok: () => undefined,
  check: (deployment) => {
    if (deployment.params.region !== undefined && !AWS_REGION.test(deployment.params.region))
      return { field: 'aws_region_name', problem: 'is not an AWS region name (e.g. us-east-1)' };
    if (deployment.model.startsWith('invoke/'))
      return {
        field: 'model',
        problem:
          'asks for the InvokeModel route; only Converse is supported: use bedrock/<model id or inference profile id>',
      };
    return undefined;
  },
  create: (deployment) => bedrockProvider(bedrockOptionsOf(deployment)),
};
