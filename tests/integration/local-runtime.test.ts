// `npm start`: the same handlers on one machine — `complete` as a Function URL, `handleMessage` behind the
// queue — and `npm run send`. Each runtime gets its own database, state folder and queues' emulator.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakes } from '../fakes/provider-server.ts';
import { createTestDatabase, type TestDatabase } from '../helpers/database.ts';
import type { Fakes } from '../helpers/function-url.ts';
import { startRuntime as spawnRuntime, waitForOutput, type Started } from '../helpers/processes.ts';

const dir = mkdtempSync(join(tmpdir(), 'konstruct-start-'));
let fakes: Fakes;
let db: TestDatabase;
beforeAll(async () => {
  fakes = await startFakes();
  db = await createTestDatabase();
});
afterAll(async () => {
  await fakes.stop();
  await db.drop();
  rmSync(dir, { recursive: true, force: true });
});

/** The children's temp folder is this file's (tsx keeps its cache there), so nothing outlives the file. */
const childTmp = { TMPDIR: dir, TMP: dir, TEMP: dir };

/** `npm start` with this file's database, its own state folder and SQS emulator (SQS_PORT=0). */
function startRuntime(env: Record<string, string | undefined>): Started {
  return spawnRuntime({
    ...childTmp,
    DATABASE_URL: db.url,
    KONSTRUCT_STATE_DIR: join(dir, 'state'),
    AWS_ENDPOINT_URL: '',
    SQS_PORT: '0',
    ...env,
  });
}

describe('start-up configuration', () => {
  it('exits with code 1 and names the field when LLM_CONFIG has a bad value', async () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'model_list:\n  - model_name: fast\n    litellm_params: { model: vertex/gemini }\n');
    const started = startRuntime({ LLM_CONFIG: path });
    const started_at = Date.now();
    const code = await started.exited;
    expect(code).toBe(1);
    expect(Date.now() - started_at).toBeLessThan(20_000);
    expect(started.output()).toContain('model_list[0].litellm_params.model');
    expect(started.output()).toMatch(/unset LLM_CONFIG|Fix the file/);
  });

  it('exits with code 1 and says what to do when the port is taken, stopping what it started', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as AddressInfo).port;
    try {
      const started = startRuntime({ PORT: String(taken) });
      expect(await started.exited).toBe(1);
      expect(started.output()).toContain(`port ${taken} is taken`);
      expect(started.output()).toContain(`PORT=${taken + 1} npm start`);
    } finally {
      blocker.close();
    }
  });

  it('exits with code 1 when the port is not a number', async () => {
    const started = startRuntime({ PORT: 'eighty' });
    expect(await started.exited).toBe(1);
    expect(started.output()).toContain('PORT=eighty');
  });

  it('starts with a LiteLLM YAML file that has extra sections, warning once with their names', async () => {
    const path = join(dir, 'litellm.yaml');
    writeFileSync(
      path,
      [
        'model_list:',
        '  - model_name: fast',
        `    litellm_params: { model: ollama/qwen3:8b, api_base: "${fakes.ollama.url}", rpm: 10 }`,
        'litellm_settings: { drop_params: true }',
        'general_settings: { master_key: os.environ/MASTER }',
      ].join('\n'),
    );
    const started = startRuntime({ LLM_CONFIG: path });
    try {
      await waitForOutput(started, /ready — complete at (http:\/\/127\.0\.0\.1:\d+)/);
      const warnings = started
        .output()
        .split('\n')
        .filter((line) => line.includes('ignored'));
      expect(warnings).toHaveLength(1);
      for (const key of ['litellm_settings', 'general_settings', 'model_list[0].litellm_params.rpm'])
        expect(warnings[0]).toContain(key);
    } finally {
      expect(await started.stop()).toBe(0);
    }
  });
});

describe('the providers it prints', () => {
  it('marks an Ollama nothing listens for ✗ with what to do, and serves all the same', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const ollamaUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const started = startRuntime({ OLLAMA_BASE_URL: ollamaUrl, LLM_CONFIG: '' });
    try {
      const url = (await waitForOutput(started, /ready — complete at (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
      expect(started.output()).toContain(
        `✗ fast       ollama/qwen3:8b not reachable at ${ollamaUrl}: start Ollama (\`ollama pull qwen3:8b\`)`,
      );
      expect(started.output()).not.toMatch(/✓ fast/);
      expect((await fetch(`${url}/health`)).status).toBe(200);
    } finally {
      expect(await started.stop()).toBe(0);
    }
  });
});

describe('serving complete', () => {
  let runtime: Started;
  let url: string;
  beforeAll(async () => {
    runtime = startRuntime({
      OLLAMA_BASE_URL: fakes.ollama.url,
      ANTHROPIC_BASE_URL: fakes.anthropic.url,
      OPENAI_BASE_URL: fakes.openai.url,
      ANTHROPIC_API_KEY: 'sk-ant-local',
      OPENAI_API_KEY: '',
      LLM_CONFIG: '',
    });
    url = (await waitForOutput(runtime, /ready — complete at (http:\/\/127\.0\.0\.1:\d+)/))[1]!;
  });
  afterAll(async () => {
    await runtime.stop();
  });

  it('prints which providers are usable and a ready-to-paste curl example', () => {
    const out = runtime.output();
    expect(out).toMatch(/✓ fast\s+ollama\/qwen3:8b/);
    expect(out).toMatch(/✓ quality\s+anthropic\/claude-sonnet-4-20250514/);
    expect(out).toMatch(/✗ quality\s+openai\/gpt-4o.*OPENAI_API_KEY/);
    expect(out).toContain(`curl -s ${url}/complete`);
    expect(out).not.toContain('sk-ant-local');
  });

  it('answers POST /complete over HTTP with the Function URL handler', async () => {
    const res = await fetch(`${url}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'quality', tenant_id: 'demo', messages: [{ role: 'user', content: 'Hello!' }] }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(await res.json()).toMatchObject({
      content: 'answer from anthropic',
      model: 'anthropic/claude-sonnet-4-20250514',
    });
  });

  it('answers GET /health with missing credentials and 405/404/413 like the Lambda', async () => {
    const health = (await (await fetch(`${url}/health`)).json()) as { deployments: unknown[] };
    expect(health.deployments).toContainEqual({
      group: 'quality',
      deployment: 'openai/gpt-4o',
      available: false,
      reason: 'no credentials',
    });
    const wrong = await fetch(`${url}/complete`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
    expect((await fetch(`${url}/nowhere`)).status).toBe(404);
    const big = await fetch(`${url}/complete`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: 'x'.repeat(1024 * 1024 + 10),
    });
    expect(big.status).toBe(413);
  });

  it('answers `npm run send -- "Hello"` through the queue with the demo agent', async () => {
    const send = spawnRuntime(
      { ...childTmp, KONSTRUCT_STATE_DIR: join(dir, 'state'), AWS_ENDPOINT_URL: '' },
      'local/send.ts',
      ['Hello', 'Ava'],
    );
    expect(await send.exited).toBe(0);
    expect(send.output()).toContain('← Ava (anthropic/claude-sonnet-4-20250514):');
    expect(send.output()).toContain('answer from anthropic');
    const last = fakes.anthropic.requests.at(-1)!.body;
    expect(last.system).toContain('Your name is Ava. Your role is Customer Support.');
    expect(last.messages).toEqual([{ role: 'user', content: 'Hello Ava' }]);
  });

  it('stops within 5 s on SIGTERM', async () => {
    const started = Date.now();
    expect(await runtime.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
