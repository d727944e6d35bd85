// A fresh `complete` in Lambda's streaming mode behind the local Function URL emulator, with the official `openai`
// client pointed at it and the cost records it writes: what the OpenAI-client streaming tests drive.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI from 'openai';
import { afterEach, vi } from 'vitest';
import { streamingEntry } from '../../functions/complete/app.ts';
import type { ConfigFile } from '../../functions/complete/config.ts';
import { installAwsLambdaGlobal } from '../../local/awslambda-global.ts';
import { serveFunctionUrl } from '../../local/function-url.ts';
import { completeFunction, type Fakes } from './function-url.ts';

/** Serves one `complete` per call (its own router state); every server is closed after each test. */
export function useStreamingComplete(fakes: Fakes) {
  const servers: Server[] = [];
  afterEach(async () => {
    const closing = servers.splice(0).map((server) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      return closed;
    });
    await Promise.all(closing);
  });

  return async function serve(config: ConfigFile) {
    installAwsLambdaGlobal();
    const fn = completeFunction(fakes, { config });
    const records: Record<string, unknown>[] = [];
    let recorded!: (record: Record<string, unknown>) => void;
    const firstRecord = new Promise<Record<string, unknown>>((resolve) => (recorded = resolve));
    vi.spyOn(fn.deps.records, 'info').mockImplementation((message, fields) => {
      if (message !== 'completion') return;
      records.push(fields);
      recorded(fields);
    });
    const server = serveFunctionUrl(streamingEntry(fn.handler), { functionName: 'complete', timeoutMs: 120_000 });
    servers.push(server);
    let requests = 0;
    server.on('request', () => requests++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const client = new OpenAI({
      baseURL: `http://127.0.0.1:${port}/v1`,
      apiKey: 'unused-locally',
      defaultHeaders: { 'x-konstruct-tenant': 'acme' },
      // A 503 with Retry-After would have the client wait and retry: a broken stream fails at once instead.
      maxRetries: 0,
    });
    return {
      client,
      records,
      /** The first cost record, once written. */
      record: () => firstRecord,
      /** HTTP requests the emulator received (the client's retries included). */
      requests: () => requests,
    };
  };
}

/** Reads a stream to its end or its error: the content it carried, and the error it threw. */
export async function drain(stream: AsyncIterable<OpenAI.ChatCompletionChunk>) {
  const content: string[] = [];
  try {
    for await (const chunk of stream) content.push(chunk.choices[0]?.delta.content ?? '');
  } catch (err) {
    return { text: content.join(''), err };
  }
  return { text: content.join(''), err: undefined };
}
