// JSON secrets in Secrets Manager: one SigV4-signed call (aws4fetch) each, reads cached with a TTL. Loading the
// AWS SDK client instead would add ~130 ms to every cold start (measured by `npm run bench`).
import { AwsClient } from 'aws4fetch';

export class SecretReadError extends Error {
  override name = 'SecretReadError';
}

export interface SecretReader {
  /** The secret's JSON value, from cache while younger than the TTL. Throws SecretReadError. */
  readJson(arn: string): Promise<Record<string, unknown>>;
}

function regionOf(arn: string, env: NodeJS.ProcessEnv): string {
  return arn.split(':')[3] || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1';
}

/** One read's time limit: a hanging Secrets Manager must not hold a request past its deadline. */
export const SECRET_READ_TIMEOUT_MS = 3_000;
/** After a failed read, how long the stale copy (or the failure) is served before Secrets Manager is asked again. */
export const SECRET_RETRY_AFTER_FAILURE_MS = 30_000;

/** One signed Secrets Manager call (JSON 1.1 protocol); its errors name the problem, never a secret's value. */
async function callSecretsManager(
  env: NodeJS.ProcessEnv,
  arn: string,
  target: 'GetSecretValue' | 'PutSecretValue',
  body: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const {
    AWS_ACCESS_KEY_ID: accessKeyId,
    AWS_SECRET_ACCESS_KEY: secretAccessKey,
    AWS_SESSION_TOKEN: sessionToken,
  } = env;
  if (!accessKeyId || !secretAccessKey) {
    throw new SecretReadError('no AWS credentials in the environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)');
  }
  const region = regionOf(arn, env);
  const endpoint =
    env.AWS_ENDPOINT_URL_SECRETS_MANAGER || env.AWS_ENDPOINT_URL || `https://secretsmanager.${region}.amazonaws.com`;
  const client = new AwsClient({
    accessKeyId,
    secretAccessKey,
    sessionToken,
    service: 'secretsmanager',
    region,
    retries: 2,
  });
  let response: Response;
  try {
    response = await client.fetch(endpoint, {
      method: 'POST',
      signal: AbortSignal.timeout(SECRET_READ_TIMEOUT_MS),
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `secretsmanager.${target}` },
      body: JSON.stringify({ SecretId: arn, ...body }),
    });
  } catch (err) {
    throw new SecretReadError(`Secrets Manager unreachable at ${endpoint} (${(err as Error).name})`);
  }
  const answer = (await response.json().catch(() => ({}))) as Record<string, unknown> & { __type?: string };
  if (!response.ok) {
    // The error type names the problem (AccessDeniedException, ResourceNotFoundException) without any secret.
    throw new SecretReadError(
      `Secrets Manager answered ${response.status} ${answer.__type?.split('#').pop() ?? ''}`.trim(),
    );
  }
  return answer;
}

/** Stores a new current version of a JSON secret (PutSecretValue). Throws SecretReadError. */
export async function putSecretJson(
  env: NodeJS.ProcessEnv,
  arn: string,
  value: Record<string, unknown>,
): Promise<void> {
  await callSecretsManager(env, arn, 'PutSecretValue', { SecretString: JSON.stringify(value) });
}

export function secretsManagerReader(env: NodeJS.ProcessEnv, ttlMs: number): SecretReader {
  const cache = new Map<string, { value: Record<string, unknown>; expires: number }>();
  /** The last failed read per secret: during an outage every request would otherwise pay for a read attempt. */
  const failures = new Map<string, { error: unknown; retryAt: number }>();
  const inFlight = new Map<string, Promise<Record<string, unknown>>>();

  async function fetchSecret(arn: string): Promise<Record<string, unknown>> {
    const body = await callSecretsManager(env, arn, 'GetSecretValue', {});
    try {
      const value = JSON.parse(String(body.SecretString ?? ''));
      if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
    } catch {
      // fall through: never echo the value
    }
    throw new SecretReadError('the secret is not a JSON object');
  }

  return {
    async readJson(arn) {
      const hit = cache.get(arn);
      if (hit && hit.expires > Date.now()) return hit.value;
      const failed = failures.get(arn);
      if (failed && failed.retryAt > Date.now()) {
        if (hit) return hit.value; // the last good copy, until Secrets Manager is asked again
        throw failed.error;
      }
      let pending = inFlight.get(arn);
      if (!pending) {
        pending = fetchSecret(arn).finally(() => inFlight.delete(arn));
        inFlight.set(arn, pending);
      }
      try {
        const value = await pending;
        cache.set(arn, { value, expires: Date.now() + ttlMs });
        failures.delete(arn);
        return value;
      } catch (err) {
        failures.set(arn, { error: err, retryAt: Date.now() + SECRET_RETRY_AFTER_FAILURE_MS });
        throw err;
      }
    },
  };
}
