// The Bedrock adapter's mapping: the Converse request, the answer, the AWS errors, and its start-up check.
import {
  AccessDeniedException,
  ModelNotReadyException,
  ServiceQuotaExceededException,
  ThrottlingException,
  ValidationException,
  type ConverseCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../../functions/complete/config.ts';
import {
  bedrock,
  bedrockFailure,
  bedrockOptionsOf,
  toBedrockAnswer,
  toConverseRequest,
} from '../../../functions/complete/providers/bedrock.ts';
import { ResponseBodyError } from '../../../functions/complete/providers/http-fetch.ts';
import { providerOfModel } from '../../../functions/complete/providers/registry.ts';

const never = new AbortController().signal;
const meta = (httpStatusCode: number, requestId = 'a1b2c3d4-req') => ({ $metadata: { httpStatusCode, requestId } });

describe('the Converse request', () => {
  it('has no system field when there is no system message', () => {
    expect(toConverseRequest({ model: 'm', messages: [{ role: 'user', content: 'x' }] })).toEqual({
      modelId: 'm',
      messages: [{ role: 'user', content: [{ text: 'x' }] }],
      inferenceConfig: { maxTokens: 1024 },
    });
  });

  it('keeps the max tokens asked for, and caps temperature at 1 (the range Bedrock models take)', () => {
    const request = toConverseRequest({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      maxTokens: 50,
      temperature: 1.7,
    });
    expect(request.inferenceConfig).toEqual({ maxTokens: 50, temperature: 1 });
  });

  it('keeps alternating turns apart', () => {
    const request = toConverseRequest({
      model: 'm',
      messages: [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: 'b' },
        { role: 'user', content: 'c' },
      ],
    });
    expect(request.messages!.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
  });
});

describe('the answer', () => {
  // Built loosely on purpose: a 200 may carry blocks the SDK's types do not name.
  const reply = (content: { text?: string }[], stopReason: string) =>
    ({
      output: { message: { role: 'assistant', content } },
      stopReason,
      usage: { inputTokens: 3, outputTokens: 4, totalTokens: 7 },
      $metadata: { requestId: 'r-1' },
    }) as unknown as ConverseCommandOutput;

  it('joins the text blocks and skips the others (reasoning, tool use)', () => {
    const answer = toBedrockAnswer(reply([{ text: 'Hel' }, {}, { text: 'lo' }], 'end_turn'));
    expect(answer).toEqual({
      content: 'Hello',
      usage: { prompt_tokens: 3, completion_tokens: 4 },
      finishReason: 'stop',
    });
  });

  it.each([
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['guardrail_intervened', 'content_filter'],
    ['content_filtered', 'content_filter'],
    ['tool_use', 'other'],
    ['malformed_model_output', 'other'],
  ])('maps stopReason %s to %s', (stopReason, finishReason) => {
    expect(toBedrockAnswer(reply([{ text: 'x' }], stopReason)).finishReason).toBe(finishReason);
  });

  it('answers an empty cut at max tokens (the model spent them thinking) as length, not a failure', () => {
    expect(toBedrockAnswer(reply([], 'max_tokens'))).toMatchObject({ content: '', finishReason: 'length' });
  });

  it('fails an empty end_turn as a retryable response_empty with the request id', () => {
    expect(() => toBedrockAnswer(reply([], 'end_turn'))).toThrow(
      expect.objectContaining({ info: { kind: 'retryable', code: 'response_empty', requestId: 'r-1' } }),
    );
  });

  it('fails a body with neither output nor stop reason as a response_error', () => {
    expect(() => toBedrockAnswer({ $metadata: {} } as never)).toThrow(
      expect.objectContaining({ info: { kind: 'retryable', code: 'response_error' } }),
    );
  });
});

describe('AWS errors', () => {
  const secret = 'the provider said something private';

  it('classifies by the error type before the status: a ModelNotReadyException (429) is retryable', () => {
    const info = bedrockFailure(new ModelNotReadyException({ message: secret, ...meta(429) }), never).info;
    expect(info).toEqual({ kind: 'retryable', status: 429, code: 'ModelNotReadyException', requestId: 'a1b2c3d4-req' });
  });

  it('makes ThrottlingException and ServiceQuotaExceededException (a 400) rate limits', () => {
    expect(bedrockFailure(new ThrottlingException({ message: secret, ...meta(429) }), never).info.kind).toBe(
      'rate_limited',
    );
    expect(bedrockFailure(new ServiceQuotaExceededException({ message: secret, ...meta(400) }), never).info.kind).toBe(
      'rate_limited',
    );
  });

  it('reads a context-length ValidationException from its message, and keeps no message', () => {
    const err = new ValidationException({
      message: 'The model returned the following errors: input length and `max_tokens` exceed context limit',
      ...meta(400),
    });
    const failure = bedrockFailure(err, never);
    expect(failure.info).toMatchObject({ kind: 'rejected', contextLength: true, code: 'ValidationException' });
    expect(failure.message).not.toContain('context limit');
  });

  it('classifies an error type it does not know by its status', () => {
    const err = Object.assign(new Error(secret), { name: 'SomethingNewException', ...meta(503) });
    expect(bedrockFailure(err, never).info).toMatchObject({ kind: 'retryable', status: 503 });
  });

  it('logs an error type or request id that does not look like one as unrecognised', () => {
    const err = new AccessDeniedException({ message: secret, ...meta(403, 'id with spaces and text') });
    Object.defineProperty(err, 'name', { value: 'Denied: <html>' });
    expect(bedrockFailure(err, never).info).toEqual({
      kind: 'auth',
      status: 403,
      code: 'unrecognised',
      requestId: 'unrecognised',
    });
  });

  it('makes an error without an HTTP status a transport failure, a timeout when the signal fired', () => {
    const aborted = AbortSignal.abort();
    expect(bedrockFailure(Object.assign(new Error('aborted'), { name: 'AbortError' }), aborted).info).toEqual({
      kind: 'retryable',
      timeout: true,
    });
    expect(bedrockFailure(new ResponseBodyError('response_too_large'), never).info).toEqual({
      kind: 'retryable',
      code: 'response_too_large',
    });
  });

  it('makes a 200 the SDK could not read a retryable response_not_json', () => {
    const err = Object.assign(new SyntaxError('Unexpected token <'), meta(200));
    expect(bedrockFailure(err, never).info).toMatchObject({ kind: 'retryable', code: 'response_not_json' });
  });
});

describe('the bedrock descriptor', () => {
  const deployment = (params: Record<string, unknown>, env: NodeJS.ProcessEnv = {}) => {
    const d = buildConfig({ model_list: [{ model_name: 'g', litellm_params: { model: 'bedrock/m' } }] }, env).config
      .deployments[0]!;
    return { ...d, ...params };
  };

  it('takes the bedrock/converse/ route of LiteLLM as the plain model id', () => {
    expect(providerOfModel('bedrock/converse/us.anthropic.claude-v1:0')).toEqual({
      provider: bedrock,
      model: 'us.anthropic.claude-v1:0',
    });
  });

  it('needs no key: the key kind of its deployments is none', () => {
    expect(deployment({}).key).toEqual({ kind: 'none' });
  });

  it('leaves region and endpoint to the SDK unless the deployment names them', () => {
    expect(bedrockOptionsOf(deployment({}))).toEqual({});
    const named = deployment(
      { params: { region: 'eu-west-1' } },
      { AWS_ENDPOINT_URL_BEDROCK_RUNTIME: 'http://vpce:1' },
    );
    expect(bedrockOptionsOf(named)).toEqual({ region: 'eu-west-1', endpoint: 'http://vpce:1' });
  });

  it('refuses at start-up a region that is not one, and the InvokeModel route', () => {
    expect(bedrock.check!(deployment({ params: { region: 'us-east-1' } }))).toBeUndefined();
    expect(bedrock.check!(deployment({ params: { region: 'US East' } }))).toEqual({
      field: 'aws_region_name',
      problem: expect.stringContaining('not an AWS region'),
    });
    expect(bedrock.check!(deployment({ model: 'invoke/anthropic.claude-v2' }))?.field).toBe('model');
  });

  it('knows no price of its own', () => {
    expect(bedrock.pricePerMTok('anthropic.claude-3-haiku-20240307-v1:0')).toBeUndefined();
  });
});
