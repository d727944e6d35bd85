// `npm start`: runs the product on one machine — the `complete` handler served as a Function URL.
import type { Server } from 'node:http';
import { ConfigError, loadRouterConfig } from '../functions/complete/config.ts';
import { createDepsFromEnvironment, createHandler } from '../functions/complete/app.ts';
import { serveFunctionUrl } from './function-url.ts';

/** `complete`'s timeout in the stack; the local Lambda context counts down from it. */
export const COMPLETE_TIMEOUT_MS = 120_000;

function fail(message: string): never {
  process.stderr.write(`\n✗ ${message}\n`);
  process.exit(1);
}

function port(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) fail(`${name}=${raw} is not a port number; use 1–65535 (or 0 for any free port).`);
  return value;
}

function listen(server: Server, portNumber: number, name: string): Promise<number> {
  return new Promise((resolve) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') fail(`port ${portNumber} is taken. Stop what uses it, or start with another: ${name}=${portNumber + 1} npm start`);
      fail(`cannot listen on 127.0.0.1:${portNumber} (${err.code}).`);
    });
    server.listen(portNumber, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : portNumber);
    });
  });
}

async function main(): Promise<void> {
  process.env.AWS_REGION ||= 'us-east-1';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ||= 'true';
  const log = (line: string) => process.stdout.write(`${line}\n`);

  log('Konstruct LLM core — local runtime');
  log('• loading the router configuration…');
  let loaded;
  try {
    loaded = loadRouterConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(`${err.message}\nFix the file named by LLM_CONFIG, or unset LLM_CONFIG to use the built-in defaults.`);
    throw err;
  }
  const deps = createDepsFromEnvironment(process.env, loaded);
  const handler = createHandler(deps);

  const { credentials } = deps;
  await credentials.refresh();
  log(`• providers (keys from ${credentials.source}):`);
  for (const d of loaded.config.deployments) {
    const key = credentials.keyFor(d);
    const where = d.provider === 'ollama' ? ` at ${d.apiBase}` : d.apiBase ? ` at ${d.apiBase}` : '';
    log(`    ${key === undefined ? '✗' : '✓'} ${d.group.padEnd(10)} ${d.id}${where}${key === undefined ? `  — no key: set ${d.key.kind === 'env' ? d.key.name : `${d.provider.toUpperCase()}_API_KEY`}` : ''}`);
  }

  const server = serveFunctionUrl(handler, { functionName: 'complete', timeoutMs: COMPLETE_TIMEOUT_MS });
  server.keepAliveTimeout = 65_000;
  const bound = await listen(server, port('PORT', 8002), 'PORT');
  const url = `http://127.0.0.1:${bound}`;

  log('');
  log(`✓ complete is ready at ${url} (POST /complete, GET /health)`);
  log('  Try it:');
  log(`  curl -s ${url}/complete -H 'content-type: application/json' \\`);
  log(`    -d '{"model":"fast","tenant_id":"demo","messages":[{"role":"user","content":"Hello!"}]}'`);
  log('  Press Ctrl-C to stop.');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`\n• ${signal}: stopping…`);
    const force = setTimeout(() => process.exit(0), 4_000);
    force.unref();
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => fail(`start-up failed: ${(err as Error)?.message ?? String(err)}`));
