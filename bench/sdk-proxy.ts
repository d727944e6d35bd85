// The floor for a proxy that keeps the official SDK: a `node:http` server that, per request, parses the JSON
// body and calls UPSTREAM through the same `openai` adapter `complete` uses (its request reuse and lean
// fetch), then answers the adapter's result as JSON. No validation, routing, deadline or cost record: what
// remains is the SDK and the two HTTP legs. Prints its URL; stops on SIGTERM.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { openAiProvider } from '../functions/complete/providers/openai.ts';

const provider = openAiProvider({ apiKey: 'sk-bench', baseURL: process.env.UPSTREAM ?? '' });

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const { model, messages } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      model: string;
      messages: { role: 'user'; content: string }[];
    };
    provider.complete({ model, messages, signal: AbortSignal.timeout(60_000) }).then(
      (answer) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(answer));
      },
      () => {
        res.writeHead(502);
        res.end();
      },
    );
  });
});

server.listen(0, '127.0.0.1', () =>
  process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
