// The floor the benchmark compares against: a `node:http` proxy with no logic at all — it forwards the body
// to UPSTREAM over a keep-alive agent and returns the answer (a stream piped through as it comes). Prints its URL; stops on SIGTERM.
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';

const upstream = new URL(process.env.UPSTREAM ?? '');
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    const forward = request(
      {
        host: upstream.hostname,
        port: upstream.port,
        path: upstream.pathname,
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': body.length },
      },
      (answer) => {
        // A stream is relayed as it comes (what a streaming proxy must do); a JSON answer as one write.
        if (String(answer.headers['content-type']).startsWith('text/event-stream')) {
          res.writeHead(answer.statusCode ?? 502, { 'content-type': 'text/event-stream' });
          answer.pipe(res);
          return;
        }
        const parts: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => parts.push(chunk));
        answer.on('end', () => {
          res.writeHead(answer.statusCode ?? 502, { 'content-type': 'application/json' });
          res.end(Buffer.concat(parts));
        });
      },
    );
    forward.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    forward.end(body);
  });
});

server.listen(0, '127.0.0.1', () =>
  process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`),
);
process.on('SIGTERM', () => server.close(() => process.exit(0)));
