// Local fake LLM providers that speak each provider's wire protocol, so tests exercise the real SDKs.
// Answers and error bodies are typed with each SDK's own types, so the fakes follow the SDKs' wire format.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type Anthropic from '@anthropic-ai/sdk';
import type { ChatResponse as OllamaChatResponse, ErrorResponse as OllamaErrorResponse } from 'ollama';
import type OpenAI from 'openai';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { writeStream, type StreamDelivery, type StreamScript } from './provider-stream.ts';
import { needsShaping, PAD_MARKER, writeShapedBody, type BodyShape, type Delivery } from './response-body.ts';

/** The providers `startFakes` runs together. */
export type FakeKind = 'openai' | 'anthropic' | 'ollama';
/**
 * Every wire protocol a fake speaks; `azure` is Azure OpenAI: OpenAI's format at
 * `/openai/deployments/{deployment}/chat/completions?api-version=…`, its key in `api-key`.
 */
export type WireKind = FakeKind | 'azure';

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
  /** The answer's text; `null`: none (OpenAI `content: null`, no Anthropic text block, Ollama `""`). */
  content?: string | null;
  finish?: 'stop' | 'length';
  /** The provider's own stop reason, sent verbatim in place of the one `finish` maps to (e.g. Anthropic's `stop_sequence`). */
  stopReason?: string;
  /**
   * The model refuses with this text: OpenAI `message.refusal` (content null), Anthropic
   * `stop_reason: "refusal"` with the text as `stop_details.explanation` (no text block).
   */
  refusal?: string;
  /** A 200 with no choices (OpenAI), no content blocks (Anthropic), no message (Ollama). */
  empty?: boolean;
  /** A 200 whose body is the provider's error object (Ollama's `{"error": …}`). */
  errorIn200?: boolean;
  /** A 200 whose body is not JSON: an HTML page (`text/html`), or JSON cut short (`application/json`). */
  notJson?: 'html' | 'broken';
  usage?: { input: number; output: number };
  /** The error code (OpenAI `code`) or type (Anthropic `error.type`) of an error body. */
  errorCode?: string;
  /** OpenAI's `error.type` (default: by status). */
  errorType?: string;
  /** Words the error message starts with (the leak marker always follows them). */
  errorMessage?: string;
  /**
   * Azure's content management policy: a 400 `content_filter` with its `innererror`
   * (`ResponsibleAIPolicyViolation`, `content_filter_result`), or (`'code only'`) without one.
   */
  contentFilter?: true | 'code only';
  /** How a request with `stream: true` is answered, piece by piece (its text, usage, finish and refusal as above). */
  stream?: StreamScript;
}

export interface RecordedRequest {
  path: string;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

/** Text each fake puts in its error bodies and broken answers, so tests can prove it never reaches a log or a response. */
export const PROVIDER_ERROR_TEXT = 'UPSTREAM-ERROR-TEXT-do-not-leak';

const PATHS: Record<WireKind, RegExp> = {
  openai: /^\/v1\/chat\/completions$/,
  anthropic: /^\/v1\/messages$/,
  ollama: /^\/api\/chat$/,
  azure: /^\/openai\/deployments\/[^/?]+\/chat\/completions\?api-version=[^&]+$/,
};

const PULLED = ['qwen3:8b'];

export class FakeProvider {
  readonly requests: RecordedRequest[] = [];
  /** How each shaped answer's body went out (see `BodyShape`), in order. */
  readonly deliveries: Delivery[] = [];
  /** How each streamed answer went out, in order. */
  readonly streams: StreamDelivery[] = [];
  private queue: Behaviour[] = [];
  private fallback: Behaviour = {};
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly waiting: { count: number; resolve: () => void }[] = [];
  private port = 0;
  /** When set, requests without this key get a 401. */
  expectedKey: string | undefined;
  /** Keep each request for assertions (off for benchmarks, where it would only grow). */
  record = true;
  /** The models a fake Ollama lists as pulled (`GET /api/tags`, not recorded): the built-in default's one. */
  ollamaModels = [...PULLED];

  constructor(
    readonly kind: WireKind,
    readonly name: string = kind,
  ) {}

  /** Base URL to give the SDK (`OPENAI_BASE_URL` includes `/v1`; Azure's `api_base` is the resource endpoint). */
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
    this.streams.length = 0;
    this.expectedKey = undefined;
    this.ollamaModels = [...PULLED];
  }

  get count(): number {
    return this.requests.length;
  }

  /** Settles once `count` requests have arrived (recorded, before they are answered). */
  received(count = this.count + 1): Promise<void> {
    if (this.requests.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiting.push({ count, resolve }));
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
    if (this.kind === 'ollama' && req.method === 'GET' && req.url === '/api/tags') {
      return this.send(res, 200, { models: this.ollamaModels.map((name) => ({ name, model: name })) });
    }
    if (req.method !== 'POST' || !PATHS[this.kind].test(req.url ?? '')) {
      return this.send(res, 404, { error: `fake ${this.kind} has no ${req.method} ${req.url}` });
    }
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      return this.send(res, 400, { error: 'fake: body is not JSON' });
    }
    if (this.record) this.requests.push({ path: req.url!, headers: req.headers, body });
    for (const w of this.waiting.filter((w) => this.requests.length >= w.count)) {
      this.waiting.splice(this.waiting.indexOf(w), 1);
      w.resolve();
    }
    const b = this.queue.shift() ?? this.fallback;
    if (b.hang) return; // the socket stays open until the client aborts or the fake stops
    if (b.delayMs) await new Promise((r) => setTimeout(r, b.delayMs));
    if (b.reset) return void req.socket.destroy();
    if (this.expectedKey !== undefined && this.keyOf(req) !== this.expectedKey) {
      return this.send(res, 401, this.errorBody(401, b), b.headers);
    }
    const status = b.status ?? 200;
    if (status !== 200) return this.send(res, status, this.errorBody(status, b), b.headers);
    if (body.stream === true) return void this.streams.push(this.stream(req, res, body, b));
    if (b.errorIn200) return this.send(res, 200, this.errorBody(500, b), b.headers);
    if (b.notJson) {
      const html = b.notJson === 'html';
      res.writeHead(200, this.headersFor({ 'content-type': html ? 'text/html' : 'application/json', ...b.headers }));
      return void res.end(
        html ? `<html><body>502 Bad Gateway ${PROVIDER_ERROR_TEXT}</body></html>` : `{"id": "${PROVIDER_ERROR_TEXT}`,
      );
    }
    if (needsShaping(b)) {
      const json = JSON.stringify(this.answer(body, b));
      this.deliveries.push(writeShapedBody(res, 200, this.headersFor(b.headers), json, b));
      return;
    }
    return this.send(res, 200, this.answer(body, b), b.headers);
  }

  private stream(req: IncomingMessage, res: ServerResponse, request: Record<string, unknown>, b: Behaviour) {
    const finish = b.finish ?? 'stop';
    const refused = b.refusal !== undefined;
    const stopReason =
      this.kind === 'anthropic'
        ? refused
          ? 'refusal'
          : (b.stopReason ?? (finish === 'length' ? 'max_tokens' : 'end_turn'))
        : (b.stopReason ?? finish);
    const text = b.content === undefined ? `answer from ${this.name}` : b.content;
    const options = request.stream_options as { include_usage?: unknown } | undefined;
    return writeStream(
      this.kind === 'azure' ? 'openai' : this.kind, // Azure streams OpenAI's chunks
      req,
      res,
      this.headersFor(b.headers),
      {
        model: String(request.model),
        text: refused ? null : text,
        ...(refused && { refusal: b.refusal }),
        usage: b.usage ?? { input: 12, output: 34 },
        stopReason,
        ...(b.padBytes !== undefined && { padBytes: b.padBytes }),
        includeUsage: options?.include_usage === true,
        errorMessage: `${b.errorMessage ? `${b.errorMessage} ` : ''}${PROVIDER_ERROR_TEXT} (in the stream)`,
      },
      b.stream ?? {},
    );
  }

  private keyOf(req: IncomingMessage): string | undefined {
    if (req.headers['x-api-key']) return req.headers['x-api-key'] as string;
    if (this.kind === 'azure') return (req.headers['api-key'] as string | undefined) || undefined;
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
    const message = `${b.errorMessage ? `${b.errorMessage} ` : ''}${PROVIDER_ERROR_TEXT} (status ${status})`;
    switch (this.kind) {
      case 'azure':
      case 'openai':
        // Azure writes OpenAI's error object, except for its content management policy.
        if (this.kind === 'azure' && b.contentFilter) return azureContentFilterError(message, b.contentFilter === true);
        return {
          error: {
            message,
            type: b.errorType ?? OPENAI_ERROR_TYPES[status] ?? 'server_error',
            param: null,
            code: b.errorCode ?? null,
          } satisfies OpenAI.ErrorObject,
        };
      case 'anthropic':
        return {
          type: 'error',
          error: { type: b.errorCode ?? ANTHROPIC_ERROR_TYPES[status] ?? 'api_error', message },
          request_id: `req_fake_${this.requests.length}`,
        } as Anthropic.ErrorResponse; // `as`: the fake also sends types the SDK does not know (hostile codes)
      case 'ollama':
        return { error: message } satisfies OllamaErrorResponse;
    }
  }

  private answer(request: Record<string, unknown>, b: Behaviour): unknown {
    const text = b.content === undefined ? `answer from ${this.name}` : b.content;
    const content = text === null ? null : text + (b.padBytes !== undefined ? PAD_MARKER : '');
    const usage = b.usage ?? { input: 12, output: 34 };
    const finish = b.finish ?? 'stop';
    const model = String(request.model);
    switch (this.kind) {
      case 'openai':
      case 'azure':
        return {
          id: 'chatcmpl-fake',
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model,
          choices: b.empty
            ? []
            : [
                {
                  index: 0,
                  message: {
                    role: 'assistant',
                    content: b.refusal !== undefined ? null : content,
                    refusal: b.refusal ?? null,
                  },
                  logprobs: null,
                  finish_reason: (b.stopReason ?? finish) as OpenAI.ChatCompletion.Choice['finish_reason'],
                },
              ],
          usage: {
            prompt_tokens: usage.input,
            completion_tokens: usage.output,
            total_tokens: usage.input + usage.output,
          },
        } satisfies OpenAI.ChatCompletion;
      case 'anthropic':
        return {
          id: 'msg_fake',
          type: 'message',
          role: 'assistant',
          model,
          container: null,
          diagnostics: null,
          content:
            b.empty || b.refusal !== undefined || content === null
              ? []
              : [{ type: 'text', text: content, citations: null }],
          stop_reason: (b.refusal !== undefined
            ? 'refusal'
            : (b.stopReason ?? (finish === 'length' ? 'max_tokens' : 'end_turn'))) as Anthropic.StopReason,
          stop_details:
            b.refusal !== undefined ? { type: 'refusal', category: 'general_harms', explanation: b.refusal } : null,
          stop_sequence: b.stopReason === 'stop_sequence' ? '\n\nEND' : null,
          usage: {
            input_tokens: usage.input,
            output_tokens: usage.output,
            cache_creation: null,
            cache_creation_input_tokens: null,
            cache_read_input_tokens: null,
            inference_geo: null,
            output_tokens_details: null,
            server_tool_use: null,
            service_tier: 'standard',
            speed: null,
          },
        } satisfies Anthropic.Message;
      case 'ollama': {
        const reply: Omit<OllamaChatResponse, 'created_at'> & { created_at: string } = {
          model,
          created_at: new Date().toISOString(),
          message: { role: 'assistant', content: content ?? '' },
          done: true,
          done_reason: b.stopReason ?? finish,
          total_duration: 1,
          load_duration: 0,
          prompt_eval_count: usage.input,
          prompt_eval_duration: 0,
          eval_count: usage.output,
          eval_duration: 0,
        };
        if (b.empty) return { ...reply, message: undefined };
        return reply;
      }
    }
  }
}

/** Azure's 400 when its content management policy filtered the prompt (the shape of its REST reference). */
function azureContentFilterError(message: string, inner: boolean): unknown {
  const safe = { filtered: false, severity: 'safe' };
  return {
    error: {
      message,
      type: null,
      param: 'prompt',
      code: 'content_filter',
      status: 400,
      ...(inner && {
        innererror: {
          code: 'ResponsibleAIPolicyViolation',
          content_filter_result: {
            hate: { filtered: true, severity: 'high' },
            jailbreak: { filtered: false, detected: false },
            self_harm: safe,
            sexual: safe,
            violence: safe,
          },
        },
      }),
    },
  };
}

/** OpenAI's documented error types by status (the SDK reads `code` and `type`). */
const OPENAI_ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'invalid_request_error',
  404: 'invalid_request_error',
  429: 'rate_limit_exceeded',
};

/** Anthropic's documented error types by status. */
const ANTHROPIC_ERROR_TYPES: Record<number, Anthropic.ErrorType | 'request_too_large'> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

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
