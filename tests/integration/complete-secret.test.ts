// Provider keys from a Secrets Manager JSON secret: cached with a TTL, re-read so a filled-in secret needs no redeploy.
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { startFakes } from '../fakes/provider-server.ts';
import { FakeSecretsManager } from '../fakes/secrets-manager.ts';
import { completeFunction, type Fakes } from '../helpers/function-url.ts';

const ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:konstruct/providers-AbCdEf';
const ANTHROPIC = 'anthropic/claude-sonnet-4-20250514';
const OPENAI = 'openai/gpt-4o';

let fakes: Fakes;
let secrets: FakeSecretsManager;
beforeAll(async () => {
  fakes = await startFakes();
  secrets = await new FakeSecretsManager().start();
});
afterAll(async () => {
  await Promise.all([fakes.stop(), secrets.stop()]);
});
afterEach(() => {
  vi.restoreAllMocks();
  secrets.outage = false;
  secrets.delayMs = 0;
  fakes.anthropic.reset();
  fakes.openai.reset();
});

const realNow = Date.now.bind(Date);
/** Sets `Date.now` to run `ms` ahead of the real clock, as if that much time had passed since the test began. */
function advanceClock(ms: number): void {
  vi.spyOn(Date, 'now').mockImplementation(() => realNow() + ms);
}

/** The environment Lambda gives the function: session credentials, region, and the secret's ARN. */
function inAws(arn = ARN) {
  return completeFunction(fakes, {
    env: {
      ANTHROPIC_API_KEY: undefined,
      OPENAI_API_KEY: undefined,
      PROVIDER_SECRET_ARN: arn,
      AWS_ENDPOINT_URL: secrets.url,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'ASIATEST',
      AWS_SECRET_ACCESS_KEY: 'test-secret-access-key',
      AWS_SESSION_TOKEN: 'test-session-token',
    },
  });
}

const availability = async (fn: ReturnType<typeof completeFunction>) =>
  Object.fromEntries(
    (await fn.health()).body.deployments.map((d: { deployment: string; available: boolean }) => [
      d.deployment,
      d.available,
    ]),
  );

describe('provider secret', () => {
  it('supplies the keys, read once and cached', async () => {
    secrets.secrets.set(
      ARN,
      JSON.stringify({ anthropic_api_key: 'sk-ant-from-secret', openai_api_key: 'sk-oai-from-secret' }),
    );
    secrets.reads = 0;
    const fn = inAws();
    const res = await fn.complete({ model: 'quality' });
    expect(res.body.model).toBe(ANTHROPIC);
    expect(fakes.anthropic.requests[0]!.headers.authorization).toBe('Bearer sk-ant-from-secret');
    expect(secrets.lastRequest?.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=ASIATEST\/\d{8}\/us-east-1\/secretsmanager\/aws4_request/,
    );
    await fn.complete({ model: 'quality' });
    expect(secrets.reads).toBe(1);
  });

  it('is not read again while the cached copy is younger than the TTL (5 min)', async () => {
    secrets.secrets.set(ARN, JSON.stringify({ anthropic_api_key: 'sk-ant', openai_api_key: 'sk-oai' }));
    secrets.reads = 0;
    const fn = inAws();
    await fn.health();
    expect(secrets.reads).toBe(1);
    advanceClock(295_000);
    await fn.health();
    expect((await fn.complete({ model: 'quality' })).status).toBe(200);
    expect(secrets.reads).toBe(1);
    advanceClock(301_000);
    await fn.health();
    expect(secrets.reads).toBe(2);
  });

  it('keeps the last keys read when Secrets Manager fails after the TTL', async () => {
    secrets.secrets.set(
      ARN,
      JSON.stringify({ anthropic_api_key: 'sk-ant-before-outage', openai_api_key: 'sk-oai-before-outage' }),
    );
    secrets.reads = 0;
    const fn = inAws();
    expect(await availability(fn)).toMatchObject({ [ANTHROPIC]: true, [OPENAI]: true });
    secrets.outage = true;
    advanceClock(301_000);
    expect(await availability(fn)).toMatchObject({ [ANTHROPIC]: true, [OPENAI]: true });
    const res = await fn.complete({ model: 'quality' });
    expect(res.body.model).toBe(ANTHROPIC);
    expect(fakes.anthropic.requests[0]!.headers.authorization).toBe('Bearer sk-ant-before-outage');
    expect(secrets.reads).toBeGreaterThan(1); // the expired copy was re-read, and that read failed
  });

  it('does not ask a failing Secrets Manager again for 30 s, serving the last keys meanwhile', async () => {
    secrets.secrets.set(
      ARN,
      JSON.stringify({ anthropic_api_key: 'sk-ant-before-outage', openai_api_key: 'sk-oai-before-outage' }),
    );
    const fn = inAws();
    await fn.health();
    secrets.outage = true;
    advanceClock(301_000);
    await fn.health();
    const afterFailure = secrets.reads;
    expect((await fn.complete({ model: 'quality' })).status).toBe(200);
    advanceClock(301_000 + 29_000);
    await fn.health();
    expect(secrets.reads).toBe(afterFailure);
    secrets.outage = false;
    advanceClock(301_000 + 31_000);
    await fn.health();
    expect(secrets.reads).toBe(afterFailure + 1);
  });

  it('does not hold a request past its deadline while a slow Secrets Manager is read', async () => {
    secrets.secrets.set(ARN, JSON.stringify({ anthropic_api_key: 'sk-ant', openai_api_key: 'sk-oai' }));
    const fn = inAws();
    await fn.health();
    secrets.delayMs = 2_000; // under the read's own 3 s limit, over this request's 300 ms
    advanceClock(301_000);
    const started = realNow();
    const res = await fn.complete({ model: 'quality', timeout_ms: 300 });
    expect(realNow() - started).toBeLessThan(1_500);
    expect(res.status).toBe(200); // with the keys it had
    expect(res.body.model).toBe(ANTHROPIC);
  });

  it('makes a deployment available once its key is filled in, after the TTL, with no redeploy', async () => {
    secrets.secrets.set(ARN, JSON.stringify({ anthropic_api_key: '', openai_api_key: 'sk-oai' }));
    const fn = inAws();
    expect(await availability(fn)).toMatchObject({ [ANTHROPIC]: false, [OPENAI]: true });
    secrets.secrets.set(ARN, JSON.stringify({ anthropic_api_key: 'sk-ant-filled', openai_api_key: 'sk-oai' }));
    expect((await availability(fn))[ANTHROPIC]).toBe(false); // still cached
    advanceClock(301_000);
    expect((await availability(fn))[ANTHROPIC]).toBe(true);
  });

  it('clears a 401 cooldown when the key changes', async () => {
    secrets.secrets.set(ARN, JSON.stringify({ anthropic_api_key: 'sk-ant-revoked', openai_api_key: 'sk-oai' }));
    fakes.anthropic.expectedKey = 'sk-ant-rotated';
    const fn = inAws();
    expect((await fn.complete({ model: 'quality' })).body.model).toBe(OPENAI);
    expect((await availability(fn))[ANTHROPIC]).toBe(false);
    secrets.secrets.set(ARN, JSON.stringify({ anthropic_api_key: 'sk-ant-rotated', openai_api_key: 'sk-oai' }));
    advanceClock(301_000);
    expect((await availability(fn))[ANTHROPIC]).toBe(true);
    fakes.openai.always({ delayMs: 50 }); // keep Anthropic the faster choice regardless of earlier measurements
    expect((await fn.complete({ model: 'quality' })).body.model).toBe(ANTHROPIC);
  });

  it('keeps serving what needs no key when the secret cannot be read', async () => {
    const fn = inAws(`${ARN}-missing`);
    const res = await fn.complete({ model: 'quality' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model: 'ollama/qwen3:8b', fallback: true });
  });
});
