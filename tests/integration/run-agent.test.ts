// runAgent: the call to `complete` (SigV4 for IAM auth, correlation header, time budget) and its fallback.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { completeFetch, FALLBACK_TEXT, runAgent } from '../../functions/handle-message/run-agent.ts';

let server: Server;
let url: string;
let last: { headers: IncomingMessage['headers']; body: Record<string, unknown> } | undefined;
let respond: (res: import('node:http').ServerResponse) => void = (res) => res.end();
beforeAll(async () => {
  server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c));
    req.on('end', () => {
      last = { headers: req.headers, body: raw ? JSON.parse(raw) : {} };
      respond(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const input = {
  model: 'quality',
  messages: [{ role: 'user' as const, content: 'Hi' }],
  tenantId: 't-1',
  messageId: 'slack-C1-1.2',
  remainingMs: 180_000,
};
const ok = (res: import('node:http').ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(
    JSON.stringify({
      content: 'hello',
      model: 'ollama/qwen3:8b',
      usage: { prompt_tokens: 3, completion_tokens: 4 },
      finish_reason: 'stop',
    }),
  );
};

describe('runAgent', () => {
  it('posts model, messages, tenant and a timeout of min(60 s, remaining − 10 s), with the message id header', async () => {
    respond = ok;
    const answer = await runAgent({ ...input, remainingMs: 30_000 }, url, completeFetch('none', {}));
    expect(answer).toEqual({
      text: 'hello',
      model: 'ollama/qwen3:8b',
      usage: { prompt_tokens: 3, completion_tokens: 4 },
      fallback: false,
    });
    expect(last!.body).toEqual({ model: 'quality', messages: input.messages, tenant_id: 't-1', timeout_ms: 20_000 });
    expect(last!.headers['x-konstruct-message-id']).toBe('slack-C1-1.2');
    await runAgent(input, url, completeFetch('none', {}));
    expect(last!.body.timeout_ms).toBe(60_000);
  });

  it('signs the call with SigV4 for service lambda when COMPLETE_AUTH=iam', async () => {
    respond = ok;
    const env = {
      AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_SESSION_TOKEN: 'token',
      AWS_REGION: 'eu-west-1',
    };
    await runAgent(input, url, completeFetch('iam', env));
    expect(last!.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request/,
    );
    expect(last!.headers['x-amz-security-token']).toBe('token');
    expect(last!.headers['x-amz-content-sha256'] ?? last!.headers['x-amz-date']).toBeTruthy();
  });

  it.each([
    [
      'a 503',
      (res: import('node:http').ServerResponse) => res.writeHead(503).end('{"error":"All providers unavailable"}'),
    ],
    ['a 400', (res: import('node:http').ServerResponse) => res.writeHead(400).end('{"error":"Unknown model group"}')],
    ['a body that is not JSON', (res: import('node:http').ServerResponse) => res.writeHead(200).end('<html>')],
    ['a 200 without content', (res: import('node:http').ServerResponse) => res.writeHead(200).end('{}')],
    ['a dropped connection', (res: import('node:http').ServerResponse) => res.socket?.destroy()],
  ])('falls back politely on %s', async (_name, handler) => {
    respond = handler;
    const answer = await runAgent(input, url, completeFetch('none', {}));
    expect(answer).toMatchObject({ text: FALLBACK_TEXT, fallback: true, model: null, usage: null });
  });

  it('gives the HTTP call timeout_ms + 2 s, then falls back with failure "timeout"', async () => {
    respond = () => {}; // never answers
    last = undefined;
    // The test fires the call's timeout itself (as AbortSignal.timeout would), instead of waiting 2.5 s for it.
    const timer = new AbortController();
    const timeout = vi.spyOn(AbortSignal, 'timeout').mockReturnValue(timer.signal);
    try {
      const answer = runAgent({ ...input, remainingMs: 10_500 }, url, completeFetch('none', {}));
      await vi.waitFor(() => expect(last?.body.timeout_ms).toBe(500));
      expect(timeout.mock.calls).toEqual([[500 + 2_000]]);
      timer.abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'));
      expect(await answer).toMatchObject({ text: FALLBACK_TEXT, fallback: true, failure: 'timeout' });
    } finally {
      timeout.mockRestore();
    }
  });

  it('falls back when no server listens', async () => {
    const answer = await runAgent(input, 'http://127.0.0.1:1', completeFetch('none', {}));
    expect(answer).toMatchObject({ fallback: true, failure: 'network' });
  });
});

describe("runAgent reads complete's 200 answer with the contract's response schema", () => {
  const answer = {
    content: 'the model answer',
    model: 'anthropic/claude-sonnet-4-20250514',
    usage: { prompt_tokens: 3, completion_tokens: 4 },
    finish_reason: 'stop',
  };
  const reply = (body: unknown) => (res: import('node:http').ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  it.each<[string, Record<string, unknown>, string]>([
    ['content missing', { ...answer, content: undefined }, 'content'],
    ['content not a string', { ...answer, content: ['the model answer'] }, 'content'],
    ['model missing', { ...answer, model: undefined }, 'model'],
    [
      'a finish_reason outside stop|length|content_filter|other',
      { ...answer, finish_reason: 'end_turn' },
      'finish_reason',
    ],
    ['usage missing', { ...answer, usage: undefined }, 'usage'],
  ])('falls back politely on a 200 with %s, naming the field and never a value', async (_name, body, field) => {
    respond = reply(body);
    const result = await runAgent(input, url, completeFetch('none', {}));
    expect(result).toMatchObject({ text: FALLBACK_TEXT, fallback: true, model: null, usage: null, status: 200 });
    expect(result.failure).toBe(`status 200, not a complete answer: ${field}`);
  });

  it('names every field that breaks the contract, and no value, in one failure', async () => {
    respond = reply({ content: 7, model: 'ollama/qwen3:8b', usage: {}, finish_reason: 'the model answer' });
    const result = await runAgent(input, url, completeFetch('none', {}));
    expect(result.failure).toBe('status 200, not a complete answer: content, finish_reason');
    expect(result.failure).not.toContain('the model answer');
  });

  it.each([3e9, 2 ** 31, -1, 1.5, '5', null])(
    'answers with an unknown (null) count where complete sent %s',
    async (count) => {
      respond = reply({ ...answer, usage: { prompt_tokens: count, completion_tokens: 4 } });
      expect(await runAgent(input, url, completeFetch('none', {}))).toEqual({
        text: 'the model answer',
        model: 'anthropic/claude-sonnet-4-20250514',
        usage: { prompt_tokens: null, completion_tokens: 4 },
        fallback: false,
      });
    },
  );

  it('keeps the largest count an int holds, 2^31 − 1, and a count of 0', async () => {
    respond = reply({ ...answer, usage: { prompt_tokens: 2 ** 31 - 1, completion_tokens: 0 } });
    expect((await runAgent(input, url, completeFetch('none', {}))).usage).toEqual({
      prompt_tokens: 2 ** 31 - 1,
      completion_tokens: 0,
    });
  });

  it('accepts each finish reason, the additive fields and keys it does not know', async () => {
    for (const finish_reason of ['stop', 'length', 'content_filter', 'other']) {
      respond = reply({
        ...answer,
        finish_reason,
        model_group: 'quality',
        fallback: false,
        attempts: 1,
        latency_ms: 12,
        cost_usd: 0.0001,
        added_later: { any: 'shape' },
      });
      expect(await runAgent(input, url, completeFetch('none', {}))).toMatchObject({
        text: 'the model answer',
        fallback: false,
      });
    }
  });
});
