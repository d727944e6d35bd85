// The start-up probe: what `npm start` says of the deployments that need no key, and that it calls no model.
import { createServer, type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig, type Deployment } from '../../functions/complete/config.ts';
import { probeDeployments } from '../../local/provider-probe.ts';
import { FakeProvider } from '../fakes/provider-server.ts';

const ollamaAt = (apiBase: string, model = 'qwen3:8b'): Deployment =>
  buildConfig(
    { model_list: [{ model_name: 'fast', litellm_params: { model: `ollama/${model}`, api_base: apiBase } }] },
    {},
  ).config.deployments[0]!;

/** A Bedrock deployment as the configuration will build it (the provider may not be registered in this build). */
const bedrock = (id: string): Deployment => ({
  ...ollamaAt('http://127.0.0.1:1'),
  id,
  provider: 'bedrock' as Deployment['provider'],
  model: id.slice('bedrock/'.length),
  key: { kind: 'none' },
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Ollama: reachable, with the model pulled', () => {
  const ollama = new FakeProvider('ollama');
  beforeAll(() => ollama.start());
  afterAll(() => ollama.stop());
  afterEach(() => ollama.reset());

  it('is ready when Ollama lists the model, and no model is called', async () => {
    const d = ollamaAt(ollama.url);
    expect((await probeDeployments([d]).readiness).get(d.id)).toEqual({ ok: true });
    expect(ollama.count).toBe(0);
  });

  it('reads a model given without a tag as `:latest`', async () => {
    ollama.ollamaModels = ['llama3.2:latest'];
    const d = ollamaAt(ollama.url, 'llama3.2');
    expect((await probeDeployments([d]).readiness).get(d.id)).toEqual({ ok: true });
  });

  it('says how to pull a model Ollama does not list', async () => {
    ollama.ollamaModels = ['llama3.2:latest'];
    const d = ollamaAt(ollama.url);
    expect((await probeDeployments([d]).readiness).get(d.id)).toEqual({
      ok: false,
      problem: `not pulled at ${ollama.url}`,
      todo: 'run `ollama pull qwen3:8b`',
    });
  });

  it('says to start Ollama when nothing listens at its URL', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`;
    const d = ollamaAt(url);
    expect((await probeDeployments([d]).readiness).get(d.id)).toEqual({
      ok: false,
      problem: `not reachable at ${url}`,
      todo: 'start Ollama (`ollama pull qwen3:8b`)',
    });
  });

  it('is not reachable when what answers there is not Ollama', async () => {
    const openai = await new FakeProvider('openai').start(); // answers GET /api/tags with a 404
    try {
      const d = ollamaAt(openai.url.replace(/\/v1$/, ''));
      expect((await probeDeployments([d]).readiness).get(d.id)).toMatchObject({
        ok: false,
        problem: expect.stringContaining('(it answered HTTP 404)'),
      });
    } finally {
      await openai.stop();
    }
  });

  it('gives up after its timeout when Ollama never answers', async () => {
    const silent = createServer(); // accepts connections, never answers
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const d = ollamaAt(`http://127.0.0.1:${(silent.address() as AddressInfo).port}`);
      const readiness = await probeDeployments([d], { timeoutMs: 50 }).readiness;
      expect(readiness.get(d.id)).toMatchObject({ ok: false, problem: expect.stringContaining('not reachable') });
    } finally {
      silent.close();
    }
  });

  it('hides a password in the URL it prints', async () => {
    const d = ollamaAt(`http://user:s3cret@127.0.0.1:${await closedPort()}`);
    const readiness = (await probeDeployments([d]).readiness).get(d.id);
    expect(JSON.stringify(readiness)).not.toContain('s3cret');
    expect(readiness).toMatchObject({ problem: expect.stringContaining('//user:***@') });
  });
});

describe('Bedrock: AWS credentials found by the default chain', () => {
  it('is ready when the chain finds credentials, asked once for all Bedrock deployments', async () => {
    let asked = 0;
    const probes = probeDeployments([bedrock('bedrock/a'), bedrock('bedrock/b')], {
      findAwsCredentials: async () => (asked++, true),
    });
    expect(await probes.awsCredentials).toBe(true);
    expect([...(await probes.readiness)]).toEqual([
      ['bedrock/a', { ok: true }],
      ['bedrock/b', { ok: true }],
    ]);
    expect(asked).toBe(1);
  });

  it('says how to configure credentials when the chain finds none or fails', async () => {
    for (const findAwsCredentials of [async () => false, () => Promise.reject(new Error('sso expired'))]) {
      const readiness = await probeDeployments([bedrock('bedrock/a')], { findAwsCredentials }).readiness;
      expect(readiness.get('bedrock/a')).toEqual({
        ok: false,
        problem: 'has no AWS credentials',
        todo: 'run `aws configure`, or set AWS_PROFILE',
      });
    }
  });

  it('does not look for AWS credentials when no deployment is on Bedrock', async () => {
    let asked = 0;
    const probes = probeDeployments([ollamaAt(`http://127.0.0.1:${await closedPort()}`)], {
      findAwsCredentials: async () => (asked++, true),
    });
    expect(await probes.awsCredentials).toBeUndefined();
    await probes.readiness;
    expect(asked).toBe(0);
  });
});

describe('deployments with a key are not probed', () => {
  it('says nothing of Anthropic or OpenAI deployments', async () => {
    const { deployments } = buildConfig(
      {
        model_list: [
          { model_name: 'q', litellm_params: { model: 'anthropic/claude-sonnet-4-20250514' } },
          { model_name: 'q', litellm_params: { model: 'openai/gpt-4o' } },
        ],
      },
      {},
    ).config;
    expect((await probeDeployments(deployments).readiness).size).toBe(0);
  });
});
