// Streamed answers as each provider sends them: OpenAI's `chat.completion.chunk` server-sent events ending in
// `data: [DONE]`, Anthropic's named events (message_start … message_stop, ping, error), Ollama's NDJSON lines.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type Anthropic from '@anthropic-ai/sdk';
import type { ChatResponse as OllamaChatResponse } from 'ollama';
import type OpenAI from 'openai';

export type StreamKind = 'openai' | 'anthropic' | 'ollama';

/** How a streamed answer goes out, piece by piece. */
export interface StreamScript {
  /** The content in these pieces (default: the answer's text, one piece per word). */
  pieces?: string[];
  /** Waits this long before each piece after the first. */
  everyMs?: number;
  /** After this many content pieces: the provider's error event, the connection cut, or silence until the client leaves. */
  failAfter?: { pieces: number; how: 'error' | 'cut' | 'hang' | 'garbage'; errorType?: string };
  /** Sends, after the content, one message this large that never ends (no newline). */
  endlessMessageBytes?: number;
  /** Bedrock: reasoning deltas (the model's thinking) sent before the content. */
  reasoning?: string[];
}

/** What the fake knows of the answer to stream (the same fields a whole answer is made of). */
export interface StreamedAnswer {
  model: string;
  text: string | null;
  refusal?: string;
  usage: { input: number; output: number };
  /** The provider's own stop reason (`stop`, `length`, `end_turn`, `max_tokens`, `refusal`…). */
  stopReason: string;
  /** Bytes of `x` to add as further content pieces of 64 KiB each. */
  padBytes?: number;
  /** OpenAI: send the usage chunk (the request asked `stream_options.include_usage`). */
  includeUsage: boolean;
  errorMessage: string;
}

/** What one streamed answer did on the wire. */
export interface StreamDelivery {
  /** Content pieces written so far. */
  pieces: number;
  /** The stream was sent to its end. */
  complete: boolean;
  /** Settles when the client's connection closes (it cancelled, or the fake cut it). */
  socketClosed: Promise<void>;
}

const PAD_PIECE = 'x'.repeat(64 * 1024);

function* contentPieces(answer: StreamedAnswer, script: StreamScript): Generator<string> {
  if (script.pieces) yield* script.pieces;
  else if (answer.text) yield* answer.text.match(/\s*\S+\s*/g) ?? [answer.text];
  for (let left = answer.padBytes ?? 0; left > 0; left -= PAD_PIECE.length) yield PAD_PIECE.slice(0, left);
}

/** One wire format: what goes before, around each piece, after, and for a failure. */
interface Wire {
  contentType: string;
  start(): string;
  piece(text: string, refusal: boolean): string;
  end(): string;
  error(type: string): string;
  /** A message that is not JSON (as a broken proxy might send), carrying the leak marker. */
  garbage: string;
  /** The opening of a message that `endlessMessageBytes` then fills. */
  endlessStart: string;
}

function sse(data: unknown, event?: string): string {
  return `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(data)}\n\n`;
}

function openAiWire(a: StreamedAnswer): Wire {
  const created = Math.floor(Date.now() / 1000);
  const chunk = (
    choices: OpenAI.ChatCompletionChunk['choices'],
    usage?: OpenAI.CompletionUsage,
  ): OpenAI.ChatCompletionChunk => ({
    id: 'chatcmpl-fake',
    object: 'chat.completion.chunk',
    created,
    model: a.model,
    system_fingerprint: 'fp_fake',
    choices,
    ...(a.includeUsage && { usage: usage ?? null }),
  });
  const choice = (delta: OpenAI.ChatCompletionChunk.Choice.Delta, finish: string | null = null) => [
    { index: 0, delta, logprobs: null, finish_reason: finish as OpenAI.ChatCompletionChunk.Choice['finish_reason'] },
  ];
  return {
    contentType: 'text/event-stream; charset=utf-8',
    start: () => sse(chunk(choice({ role: 'assistant', content: '', refusal: null }))),
    piece: (text, refusal) => sse(chunk(choice(refusal ? { refusal: text } : { content: text }))),
    end: () =>
      sse(chunk(choice({}, a.stopReason))) +
      (a.includeUsage
        ? sse(
            chunk([], {
              prompt_tokens: a.usage.input,
              completion_tokens: a.usage.output,
              total_tokens: a.usage.input + a.usage.output,
            }),
          )
        : '') +
      'data: [DONE]\n\n',
    error: (type) => sse({ error: { message: a.errorMessage, type, param: null, code: null } }),
    garbage: `data: {"id": ${a.errorMessage}\n\n`,
    endlessStart: 'data: {"id":"chatcmpl-fake","choices":[{"index":0,"delta":{"content":"',
  };
}

function anthropicWire(a: StreamedAnswer): Wire {
  const refused = a.stopReason === 'refusal';
  return {
    contentType: 'text/event-stream; charset=utf-8',
    start: () =>
      sse(
        {
          type: 'message_start',
          message: {
            id: 'msg_fake',
            type: 'message',
            role: 'assistant',
            model: a.model,
            content: [],
            stop_reason: null,
            stop_sequence: null,
            usage: { input_tokens: a.usage.input, output_tokens: 1 },
          },
        },
        'message_start',
      ) +
      sse({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }, 'content_block_start') +
      sse({ type: 'ping' }, 'ping'),
    piece: (text) =>
      sse(
        {
          type: 'content_block_delta',
          index: 0,
          delta: { type: 'text_delta', text },
        } satisfies Anthropic.RawContentBlockDeltaEvent,
        'content_block_delta',
      ),
    end: () =>
      sse({ type: 'content_block_stop', index: 0 }, 'content_block_stop') +
      sse(
        {
          type: 'message_delta',
          delta: {
            stop_reason: a.stopReason,
            stop_sequence: null,
            stop_details:
              refused && a.refusal !== undefined
                ? { type: 'refusal', category: 'general_harms', explanation: a.refusal }
                : null,
          },
          usage: { output_tokens: a.usage.output },
        },
        'message_delta',
      ) +
      sse({ type: 'message_stop' }, 'message_stop'),
    error: (type) => sse({ type: 'error', error: { type, message: a.errorMessage } }, 'error'),
    garbage: `event: content_block_delta\ndata: {"type": ${a.errorMessage}\n\n`,
    endlessStart: 'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"text":"',
  };
}

function ollamaWire(a: StreamedAnswer): Wire {
  const line = (content: string, last?: Partial<OllamaChatResponse>) =>
    JSON.stringify({
      model: a.model,
      created_at: new Date().toISOString(),
      message: { role: 'assistant', content },
      done: false,
      ...last,
    }) + '\n';
  return {
    contentType: 'application/x-ndjson',
    start: () => '',
    piece: (text) => line(text),
    end: () =>
      line('', {
        done: true,
        done_reason: a.stopReason,
        total_duration: 1,
        load_duration: 0,
        prompt_eval_count: a.usage.input,
        prompt_eval_duration: 0,
        eval_count: a.usage.output,
        eval_duration: 0,
      }),
    error: () => JSON.stringify({ error: a.errorMessage }) + '\n',
    garbage: `<html>${a.errorMessage}</html>\n`,
    endlessStart: '{"model":"fake","message":{"role":"assistant","content":"',
  };
}

const WIRES: Record<StreamKind, (a: StreamedAnswer) => Wire> = {
  openai: openAiWire,
  anthropic: anthropicWire,
  ollama: ollamaWire,
};

/** Default error event types, as each provider names a mid-stream overload. */
const OVERLOADED: Record<StreamKind, string> = { openai: 'server_error', anthropic: 'overloaded_error', ollama: '' };

/** One promise per connection (a keep-alive socket carries many answers). */
const closes = new WeakMap<Socket, Promise<void>>();

function closeOf(socket: Socket): Promise<void> {
  let closed = closes.get(socket);
  if (!closed) {
    closed = new Promise((resolve) => (socket.destroyed ? resolve() : socket.once('close', () => resolve())));
    closes.set(socket, closed);
  }
  return closed;
}

/** The record of one streamed answer about to go out on `socket`. */
export function deliveryFor(socket: Socket): StreamDelivery {
  return { pieces: 0, complete: false, socketClosed: closeOf(socket) };
}

export function writeStream(
  kind: StreamKind,
  req: IncomingMessage,
  res: ServerResponse,
  headers: Record<string, string>,
  answer: StreamedAnswer,
  script: StreamScript,
): StreamDelivery {
  const socket = req.socket;
  const delivery = deliveryFor(socket);
  const wire = WIRES[kind](answer);
  res.on('error', () => undefined); // a write after the client left: nothing to do
  res.writeHead(200, { ...headers, 'content-type': wire.contentType, 'cache-control': 'no-cache' });
  void (async () => {
    const gone = () => socket.destroyed;
    const write = async (text: string) => {
      if (!text || gone()) return;
      if (res.write(text)) return;
      await new Promise<void>((resolve) => {
        const done = () => (res.off('drain', done), res.off('close', done), resolve());
        res.on('drain', done).on('close', done);
      });
    };
    await write(wire.start());
    const refusing = answer.refusal !== undefined && kind === 'openai';
    const texts = refusing
      ? (script.pieces ?? answer.refusal!.match(/\s*\S+\s*/g) ?? [])
      : contentPieces(answer, script);
    for (const text of texts) {
      if (script.failAfter && delivery.pieces === script.failAfter.pieces) break;
      if (delivery.pieces > 0 && script.everyMs) await new Promise((r) => setTimeout(r, script.everyMs));
      if (gone()) return;
      await write(wire.piece(text, refusing));
      delivery.pieces++;
    }
    const failure = script.failAfter;
    if (failure) {
      if (failure.how === 'hang') return; // silent until the client leaves or the fake stops
      if (failure.how === 'cut') return void socket.end(); // what was written still arrives, then the connection closes
      if (failure.how === 'garbage') return void res.end(wire.garbage);
      await write(wire.error(failure.errorType ?? OVERLOADED[kind]));
      return void res.end();
    }
    if (script.endlessMessageBytes !== undefined) {
      await write(wire.endlessStart);
      for (let left = script.endlessMessageBytes; left > 0 && !gone(); left -= PAD_PIECE.length) await write(PAD_PIECE);
      return void socket.destroy();
    }
    await write(wire.end());
    if (gone()) return;
    delivery.complete = true;
    res.end();
  })();
  return delivery;
}
