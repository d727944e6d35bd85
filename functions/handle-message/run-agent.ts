// Asks `complete` for the agent's answer; any failure becomes the polite fallback reply, never an error —
// except a call abandoned because the runtime shuts down, which leaves the record for SQS to deliver again.
import { AwsClient } from 'aws4fetch';
import {
  completeResponseSchema,
  type ChatMessage,
  type CompleteRequest,
  type Usage,
} from '../common/complete-contract.ts';
import { describeIssues } from '../common/field-problems.ts';

export const FALLBACK_TEXT = "I'm having trouble processing your request right now. Please try again in a moment.";
/** The longest `complete` call; the Lambda's remaining time may make it shorter. */
const MAX_TIMEOUT_MS = 60_000;
/** Kept back from the Lambda's remaining time for storing and publishing the reply. */
const RESERVE_MS = 10_000;
/** The HTTP call's own timeout exceeds `timeout_ms` so that `complete` can still answer with its 503. */
const HTTP_SLACK_MS = 2_000;

export interface AgentAnswer {
  text: string;
  model: string | null;
  /** The counts as the contract reads them (each null when unknown); null on the fallback. */
  usage: Usage | null;
  fallback: boolean;
  /** Why the fallback was used: `status 503`, `timeout`, `network`, or the fields of an answer that broke the contract; for logs only. */
  failure?: string;
  status?: number;
}

/**
 * The runtime stopped while the call waited on `complete`: the record must be neither answered nor deleted,
 * so that it is delivered again (a shutdown never turns a message into a fallback reply).
 */
export class CompleteCallAbandoned extends Error {
  override name = 'CompleteCallAbandoned';
  constructor() {
    super('the call to complete was abandoned because the runtime is shutting down; SQS will deliver the record again');
  }
}

export interface CompleteClient {
  readonly url: string;
  readonly auth: 'none' | 'iam';
}

export interface RunAgentInput {
  model: string;
  messages: ChatMessage[];
  tenantId: string;
  messageId: string;
  remainingMs: number;
}

type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** `fetch`, SigV4-signed for service `lambda` when `auth` is `iam` (Function URL with AWS_IAM auth). */
export function completeFetch(auth: 'none' | 'iam', env: NodeJS.ProcessEnv): FetchLike {
  if (auth === 'none') return (url, init) => fetch(url, init);
  return (url, init) => {
    const {
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: secretAccessKey,
      AWS_SESSION_TOKEN: sessionToken,
    } = env;
    if (!accessKeyId || !secretAccessKey)
      return Promise.reject(new Error('COMPLETE_AUTH=iam but no AWS credentials in the environment'));
    const region = env.AWS_REGION || 'us-east-1';
    // Lambda's credentials rotate with the execution environment; a client per call reads the current ones.
    const signer = new AwsClient({ accessKeyId, secretAccessKey, sessionToken, service: 'lambda', region, retries: 0 });
    return signer.fetch(url, init);
  };
}

/** The `timeout_ms` sent to `complete`: min(60 s, the Lambda's remaining time − 10 s). */
function completeTimeoutMs(remainingMs: number): number {
  return Math.max(100, Math.min(MAX_TIMEOUT_MS, remainingMs - RESERVE_MS));
}

/** The longest the call to `complete` can take, answer included. */
export function completeCallTimeoutMs(remainingMs: number): number {
  return completeTimeoutMs(remainingMs) + HTTP_SLACK_MS;
}

/** The JSON body POSTed to `complete`. */
export function completeRequestBody(input: RunAgentInput): string {
  const body: CompleteRequest = {
    model: input.model,
    messages: input.messages,
    tenant_id: input.tenantId,
    timeout_ms: completeTimeoutMs(input.remainingMs),
  };
  return JSON.stringify(body);
}

/** `abandon` (the local runtime's shutdown) aborts the call and makes it throw `CompleteCallAbandoned`. */
export async function runAgent(
  input: RunAgentInput,
  completeUrl: string,
  doFetch: FetchLike,
  abandon?: AbortSignal,
): Promise<AgentAnswer> {
  if (abandon?.aborted) throw new CompleteCallAbandoned();
  const timeoutMs = completeTimeoutMs(input.remainingMs);
  const fallback = (failure: string, status?: number): AgentAnswer => {
    if (abandon?.aborted) throw new CompleteCallAbandoned(); // the failure is the shutdown's doing, not complete's
    return { text: FALLBACK_TEXT, model: null, usage: null, fallback: true, failure, status };
  };
  const timeout = AbortSignal.timeout(timeoutMs + HTTP_SLACK_MS);
  let response: Response;
  try {
    response = await doFetch(`${completeUrl.replace(/\/+$/, '')}/complete`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-konstruct-message-id': encodeURIComponent(input.messageId).slice(0, 512),
      },
      body: completeRequestBody(input),
      signal: abandon ? AbortSignal.any([timeout, abandon]) : timeout,
    });
  } catch (err) {
    return fallback((err as Error).name === 'TimeoutError' ? 'timeout' : 'network');
  }
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    return fallback(`status ${response.status}, body not JSON`, response.status);
  }
  if (response.status !== 200) return fallback(`status ${response.status}`, response.status);
  const answer = completeResponseSchema.safeParse(body);
  if (!answer.success) {
    // Field names only: the values may be the model's answer.
    const fields = [...new Set(describeIssues(answer.error).map((p) => p.field))];
    return fallback(`status 200, not a complete answer: ${fields.join(', ')}`, 200);
  }
  const { content, model, usage } = answer.data;
  return { text: content, model, usage, fallback: false };
}
