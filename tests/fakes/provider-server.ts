// Local fake LLM providers that speak each provider's wire protocol, so tests exercise the real SDKs.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { needsShaping, PAD_MARKER, writeShapedBody, type BodyShape, type Delivery } from './response-body.ts';

export type FakeKind = 'openai' | 'anthropic' | 'ollama';

/** What the fake does with one request; the `BodyShape` options shape a 200 answer's body on the wire. */
export interface Behaviour extends BodyShape {
  /** HTTP status; 200 answers, anything else is an error in the provider's own error format. */
  status?: number;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Never answer (until the client gives up or the fake stops). */
  hang?: boolean;
  /** Drop the connection without an answer. */
  reset?: boolean;
  headers?: Record<string, string>;
  content?: string;
  finish?: 'stop' | 'length';
  /** The provider's own stop reason, sent verbatim in place of the one `finish` maps to (e.g. Anthropic's `stop_sequence`). */
  stopReason?: string;
  usage?: { input: number; output: number };
  /** The error code (OpenAI `code`) or type (Anthropic `error.type`) of an error body. */
  errorCode?: string;
}

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

/** Text each fake puts in its error bodies, so tests can prove it never reaches a log or a response. */
export const PROVIDER_ERROR_TEXT = 'UPSTREAM-ERROR-TEXT-do-not-leak';

const PATHS: Record<FakeKind, string> = {
  openai: '/v1/chat/completions',
  anthropic: '/v1/messages',
  ollama: '/api/chat',
};

export class FakeProvider {
  readonly requests: RecordedRequest[] = [];
  /** How each shaped answer's body went out (see `BodyShape`), in order. */
  readonly deliveries: Delivery[] = [];
  private queue: Behaviour[] = [];
  private fallback: Behaviour = {};
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private port = 0;
  /** When set, requests without this key get a 401. */
  expectedKey: string | undefined;
  /** Keep each request for assertions (off for benchmarks, where it would only grow). */
  record = true;

  constructor(
    readonly kind: FakeKind,
    readonly name = kind,
  ) {}

  /** Base URL to give the SDK (`OPENAI_BASE_URL` includes `/v1`). */
  get url(): string {
    return `http://127.0.0.1:${this.port}${this.kind === 'openai' ? '/v1' : ''}`;
  }

  /** How every request is answered unless a queued behaviour comes first. */
  always(behaviour: Behaviour): this {
    this.fallback = behaviour;
    return this;
  }

  /** Answers the next requests, one behaviour each, before falling back to `always`. */
  next(...behaviours: Behaviour[]): this {
    this.queue.push(...behaviours);
    return this;
  }

  reset(): void {
    this.queue = [];
    this.fallback = {};
    this.requests.length = 0;
    this.deliveries.length = 0;
    this.expectedKey = undefined;
  }

  get count(): number {
    return this.requests.length;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const address = this.server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // Read with events, not `for await`: the async iterator destroys the request, and with it the keep-alive socket.
    const chunks: Buffer[] = [];
    await new Promise<void>((resolve) => {
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', resolve);
    });
    if (req.method !== 'POST' || req.url !== PATHS[this.kind]) {
      return this.send(res, 404, { error: `fake ${this.kind} has no ${req.method} ${req.url}` });
    }
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return this.send(res, 400, { error: 'fake: body is not JSON' });
    }
    if (this.record) this.requests.push({ path: req.url, headers: req.headers, body });
    const b = this.queue.shift() ?? this.fallback;
    if (b.hang) return; // the socket stays open until the client aborts or the fake stops
    if (b.delayMs) await new Promise((r) => setTimeout(r, b.delayMs));
    if (b.reset) return void req.socket.destroy();
    if (this.expectedKey !== undefined && this.keyOf(req) !== this.expectedKey) {
      return this.send(res, 401, this.errorBody(401, b), b.headers);
    }
    const status = b.status ?? 200;
    if (status !== 200) return this.send(res, status, this.errorBody(status, b), b.headers);
    if (needsShaping(b)) {
      const json = JSON.stringify(this.answer(body, b));
      this.deliveries.push(writeShapedBody(res, 200, this.headersFor(b.headers), json, b));
      return;
    }
    return this.send(res, 200, this.answer(body, b), b.headers);
  }

  private keyOf(req: IncomingMessage): string | undefined {
    if (req.headers['x-api-key']) return req.headers['x-api-key'] as string;
    return (req.headers.authorization ?? '').replace(/^Bearer /, '') || undefined;
  }

  private headersFor(extra: Record<string, string> = {}): Record<string, string> {
    const requestIdHeader = this.kind === 'anthropic' ? 'request-id' : 'x-request-id';
    return { 'content-type': 'application/json', [requestIdHeader]: `req_fake_${this.requests.length}`, ...extra };
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    res.writeHead(status, this.headersFor(headers));
    res.end(JSON.stringify(body));
  }

  private errorBody(status: number, b: Behaviour): unknown {
    const message = `${PROVIDER_ERROR_TEXT} (status ${status})`;
    switch (this.kind) {
      case 'openai':
        return {
          error: {
            message,
            type: status === 429 ? 'rate_limit_exceeded' : 'server_error',
            param: null,
            code: b.errorCode ?? null,
          },
        };
      case 'anthropic':
        return {
          type: 'error',
          error: { type: b.errorCode ?? (status === 529 ? 'overloaded_error' : 'api_error'), message },
        };
      case 'ollama':
        return { error: message };
    }
  }

  private answer(request: Record<string, unknown>, b: Behaviour): unknown {
    const content = (b.content ?? `answer from ${this.name}`) + (b.padBytes !== undefined ? PAD_MARKER : '');
    const usage = b.usage ?? { input: 12, output: 34 };
    const finish = b.finish ?? 'stop';
    switch (this.kind) {
      case 'openai':
        return {
          id: 'chatcmpl-fake',
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: request.model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content, refusal: null },
              logprobs: null,
              finish_reason: b.stopReason ?? finish,
            },
          ],
          usage: {
            prompt_tokens: usage.input,
            completion_tokens: usage.output,
            total_tokens: usage.input + usage.output,
          },
        };
      case 'anthropic':
        return {
          id: 'msg_fake',
          type: 'message',
          role: 'assistant',
          model: request.model,
          content: [{ type: 'text', text: content }],
          stop_reason: b.stopReason ?? (finish === 'length' ? 'max_tokens' : 'end_turn'),
          stop_sequence: b.stopReason === 'stop_sequence' ? '\n\nEND' : null,
          usage: { input_tokens: usage.input, output_tokens: usage.output },
        };
      case 'ollama':
        return {
          model: request.model,
          created_at: new Date().toISOString(),
          message: { role: 'assistant', content },
          done: true,
          done_reason: b.stopReason ?? finish,
          total_duration: 1,
          prompt_eval_count: usage.input,
          eval_count: usage.output,
        };
    }
  }
}

export async function startFakes(): Promise<{
  anthropic: FakeProvider;
  openai: FakeProvider;
  ollama: FakeProvider;
  stop: () => Promise<void>;
}> {
  const [anthropic, openai, ollama] = await Promise.all([
    new FakeProvider('anthropic').start(),
    new FakeProvider('openai').start(),
    new FakeProvider('ollama').start(),
  ]);
  return {
    anthropic,
    openai,
    ollama,
    stop: async () => {
      await Promise.all([anthropic.stop(), openai.stop(), ollama.stop()]);
    },
  };
}

/**
 * Fake providers for a test file: started before its tests, reset after each, stopped after all.
 * The returned object is filled in by `beforeAll`, so use it inside tests and hooks only.
 */
export function useFakeProviders(): Awaited<ReturnType<typeof startFakes>> {
  const fakes = {} as Awaited<ReturnType<typeof startFakes>>;
  beforeAll(async () => {
    Object.assign(fakes, await startFakes());
  });
  afterAll(async () => {
    await fakes.stop?.();
  });
  afterEach(() => {
    for (const fake of [fakes.anthropic, fakes.openai, fakes.ollama]) fake?.reset();
  });
  return fakes;
}
