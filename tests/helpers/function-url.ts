// Builds real Function URL (payload format 2.0) events and drives the real `complete` handler with them.
import { randomUUID } from 'node:crypto';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { buildConfig, DEFAULT_CONFIG_FILE, type ConfigFile } from '../../functions/complete/config.ts';
import { createDepsFromEnvironment, createHandler, type CompleteDeps } from '../../functions/complete/app.ts';
import { lambdaContext } from '../../local/lambda-context.ts';
import type { startFakes } from '../fakes/provider-server.ts';

export const ANTHROPIC_KEY = 'sk-ant-test-KEY-aaaaaaaaaaaaaaaa';
export const OPENAI_KEY = 'sk-openai-test-KEY-bbbbbbbbbbbbbbbb';

export function functionUrlEvent(
  method: string,
  path: string,
  body?: string,
  options: { base64?: boolean; headers?: Record<string, string> } = {},
): APIGatewayProxyEventV2 {
  const now = new Date();
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: { 'content-type': 'application/json', host: 'abc.lambda-url.us-east-1.on.aws', ...options.headers },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc',
      domainName: 'abc.lambda-url.us-east-1.on.aws',
      domainPrefix: 'abc',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'vitest' },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toISOString(),
      timeEpoch: now.getTime(),
    },
    ...(body !== undefined && { body: options.base64 ? Buffer.from(body).toString('base64') : body }),
    isBase64Encoded: options.base64 ?? false,
  };
}

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export type Fakes = Awaited<ReturnType<typeof startFakes>>;

/** A `complete` function wired to the fakes, with its own router state (a fresh cold start). */
export function completeFunction(
  fakes: Fakes,
  options: {
    config?: ConfigFile;
    env?: Record<string, string | undefined>;
    lambdaTimeoutMs?: number;
    now?: () => number;
  } = {},
) {
  const env: NodeJS.ProcessEnv = {
    ANTHROPIC_API_KEY: ANTHROPIC_KEY,
    OPENAI_API_KEY: OPENAI_KEY,
    ANTHROPIC_BASE_URL: fakes.anthropic.url,
    OPENAI_BASE_URL: fakes.openai.url,
    OLLAMA_BASE_URL: fakes.ollama.url,
    ...options.env,
  };
  const deps: CompleteDeps = createDepsFromEnvironment(env, buildConfig(options.config ?? DEFAULT_CONFIG_FILE, env), {
    now: options.now,
  });
  const handler = createHandler(deps);

  async function invoke(
    method: string,
    path: string,
    body?: unknown,
    opts: { raw?: boolean; base64?: boolean; headers?: Record<string, string> } = {},
  ): Promise<Reply> {
    const text = body === undefined ? undefined : opts.raw ? String(body) : JSON.stringify(body);
    const result = await handler(
      functionUrlEvent(method, path, text, opts),
      lambdaContext('complete', options.lambdaTimeoutMs ?? 120_000),
    );
    return {
      status: result.statusCode ?? 200,
      headers: (result.headers ?? {}) as Record<string, string>,
      body: JSON.parse(result.body ?? '{}'),
    };
  }

  return {
    deps,
    handler,
    invoke,
    complete: (request: Record<string, unknown>) =>
      invoke('POST', '/complete', {
        tenant_id: 'tenant-1',
        messages: [{ role: 'user', content: 'Hello' }],
        ...request,
      }),
    health: () => invoke('GET', '/health'),
  };
}
