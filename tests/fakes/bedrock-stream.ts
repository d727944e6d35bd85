// Bedrock's ConverseStream answers as AWS sends them: binary event-stream frames (`application/vnd.amazon.eventstream`).
//
// Wire format, as the Bedrock API reference documents ConverseStream ("ConverseStreamOutput": the events
// messageStart, contentBlockStart, contentBlockDelta, contentBlockStop, messageStop, metadata; the exceptions
// internalServerException, modelStreamErrorException, validationException, throttlingException,
// serviceUnavailableException) and as the SDK's event-stream parser reads it (@smithy/core's
// `getMessageUnmarshaller`): each frame has the headers `:message-type` (`event`, or `exception` with
// `:exception-type` naming the union member), `:event-type` and `:content-type: application/json`, and a JSON
// payload; AWS pads each event payload with a `p` field of letters, which readers ignore.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { EventStreamCodec } from '@smithy/core/event-streams';
import { fromUtf8, toUtf8 } from '@smithy/core/serde';
import { deliveryFor, type StreamDelivery, type StreamScript } from './provider-stream.ts';

const codec = new EventStreamCodec(toUtf8, fromUtf8);

type FrameHeaders = Parameters<EventStreamCodec['encode']>[0]['headers'];

/** What the fake knows of the answer to stream. */
export interface ConverseStreamAnswer {
  /** The content (a guardrail's blocked message included); null: none. */
  text: string | null;
  usage: { input: number; output: number };
  /** Bedrock's stop reason (`end_turn`, `max_tokens`, `guardrail_intervened`…). */
  stopReason: string;
  /** Bytes of `x` to add as further content pieces of 64 KiB each. */
  padBytes?: number;
  errorMessage: string;
}

const PAD_PIECE = 'x'.repeat(64 * 1024);

function frame(headers: FrameHeaders, payload: string): Buffer {
  return Buffer.from(codec.encode({ headers, body: fromUtf8(payload) }));
}

function event(type: string, data: Record<string, unknown>): Buffer {
  return frame(
    {
      ':event-type': { type: 'string', value: type },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'event' },
    },
    JSON.stringify({ ...data, p: 'abcdefghijklmnopqrstuvwxyzABCDEFGH'.slice(0, 1 + (type.length % 30)) }),
  );
}

/** An exception event: `type` is the AWS error type (`ThrottlingException`), sent as its union member's name. */
function exception(type: string, message: string): Buffer {
  return frame(
    {
      ':exception-type': { type: 'string', value: type.charAt(0).toLowerCase() + type.slice(1) },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: 'exception' },
    },
    JSON.stringify({ message }),
  );
}

function* contentPieces(answer: ConverseStreamAnswer, script: StreamScript): Generator<string> {
  if (script.pieces) yield* script.pieces;
  else if (answer.text) yield* answer.text.match(/\s*\S+\s*/g) ?? [answer.text];
  for (let left = answer.padBytes ?? 0; left > 0; left -= PAD_PIECE.length) yield PAD_PIECE.slice(0, left);
}

export function writeConverseStream(
  req: IncomingMessage,
  res: ServerResponse,
  headers: Record<string, string>,
  answer: ConverseStreamAnswer,
  script: StreamScript,
): StreamDelivery {
  const socket = req.socket;
  const delivery = deliveryFor(socket);
  res.on('error', () => undefined); // a write after the client left: nothing to do
  res.writeHead(200, { ...headers, 'content-type': 'application/vnd.amazon.eventstream' });
  void (async () => {
    const gone = () => socket.destroyed;
    const write = async (bytes: Buffer) => {
      if (gone()) return;
      if (res.write(bytes)) return;
      await new Promise<void>((resolve) => {
        const done = () => (res.off('drain', done), res.off('close', done), resolve());
        res.on('drain', done).on('close', done);
      });
    };
    // Failing before it has begun an answer, Bedrock sends the exception event alone.
    const failure = script.failAfter;
    if (failure?.pieces === 0 && failure.how === 'error') {
      await write(exception(failure.errorType ?? 'ModelStreamErrorException', answer.errorMessage));
      return void res.end();
    }
    await write(event('messageStart', { role: 'assistant' }));
    for (const text of script.reasoning ?? [])
      await write(event('contentBlockDelta', { contentBlockIndex: 0, delta: { reasoningContent: { text } } }));
    await write(event('contentBlockStart', { contentBlockIndex: 0, start: {} }));
    for (const text of contentPieces(answer, script)) {
      if (script.failAfter && delivery.pieces === script.failAfter.pieces) break;
      if (delivery.pieces > 0 && script.everyMs) await new Promise((r) => setTimeout(r, script.everyMs));
      if (gone()) return;
      await write(event('contentBlockDelta', { contentBlockIndex: 0, delta: { text } }));
      delivery.pieces++;
    }
    if (failure) {
      if (failure.how === 'hang') return; // silent until the client leaves or the fake stops
      if (failure.how === 'cut') return void socket.end(); // what was written still arrives, then the connection closes
      if (failure.how === 'garbage') {
        // A well-framed delta whose payload is not JSON, as a broken proxy might send.
        const headers: FrameHeaders = {
          ':event-type': { type: 'string', value: 'contentBlockDelta' },
          ':content-type': { type: 'string', value: 'application/json' },
          ':message-type': { type: 'string', value: 'event' },
        };
        return void res.end(frame(headers, `{"delta": ${answer.errorMessage}`));
      }
      await write(exception(failure.errorType ?? 'ModelStreamErrorException', answer.errorMessage));
      return void res.end();
    }
    if (script.endlessMessageBytes !== undefined) {
      // A frame that announces its length and never arrives whole.
      const prelude = Buffer.alloc(12);
      prelude.writeUInt32BE(script.endlessMessageBytes, 0);
      await write(prelude);
      for (let left = script.endlessMessageBytes; left > 0 && !gone(); left -= PAD_PIECE.length)
        await write(Buffer.from(PAD_PIECE));
      return void socket.destroy();
    }
    await write(event('contentBlockStop', { contentBlockIndex: 0 }));
    await write(event('messageStop', { stopReason: answer.stopReason }));
    const { input, output } = answer.usage;
    await write(
      event('metadata', {
        usage: { inputTokens: input, outputTokens: output, totalTokens: input + output },
        metrics: { latencyMs: 5 },
      }),
    );
    if (gone()) return;
    delivery.complete = true;
    res.end();
  })();
  return delivery;
}
