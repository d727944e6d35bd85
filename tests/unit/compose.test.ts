// localstack-compose.yml: the services the deploy script relies on, their ports, and the network that
// LocalStack's Lambda containers join to reach Postgres and Ollama by name.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

interface Service {
  image: string;
  ports?: string[];
  healthcheck?: { test: unknown };
  environment?: Record<string, string>;
  volumes?: string[];
  networks?: string[] | Record<string, unknown>;
  network_mode?: string;
}
const compose = parse(readFileSync(new URL('../../localstack-compose.yml', import.meta.url), 'utf8')) as {
  name?: string;
  services: Record<string, Service>;
  networks?: Record<string, { name?: string; external?: boolean } | null>;
};
const deployScript = readFileSync(new URL('../../local/localstack-deploy.ts', import.meta.url), 'utf8');

/** The network keys a service joins: `default` unless it lists its own (Compose's rule). */
const networkKeys = (service: Service) =>
  service.networks === undefined
    ? ['default']
    : Array.isArray(service.networks)
      ? service.networks
      : Object.keys(service.networks);
/** The name Docker gives a compose network: its own `name`, else `{project}_{key}`. */
const dockerNetworkName = (key: string) => compose.networks?.[key]?.name ?? `${compose.name}_${key}`;
/** The container side of a `host_ip:host_port:container_port` mapping. */
const containerPorts = (service: Service) => (service.ports ?? []).map((mapping) => Number(mapping.split(':').at(-1)));

describe('localstack-compose.yml services', () => {
  it('defines LocalStack, Postgres and Ollama, each with a health check', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['localstack', 'ollama', 'postgres']);
    for (const service of Object.values(compose.services)) expect(service.healthcheck?.test).toBeTruthy();
  });

  it('publishes their ports on loopback only', () => {
    expect(compose.services.localstack!.ports).toEqual(['127.0.0.1:4566:4566']);
    expect(compose.services.postgres!.ports).toEqual(['127.0.0.1:5432:5432']);
    expect(compose.services.ollama!.ports).toEqual(['127.0.0.1:11434:11434']);
  });

  it('runs Postgres ≤ 17 with the credentials the deploy script stores', () => {
    expect(Number(compose.services.postgres!.image.split(':')[1])).toBeLessThanOrEqual(17);
    expect(compose.services.postgres!.environment).toMatchObject({
      POSTGRES_USER: 'konstruct',
      POSTGRES_DB: 'konstruct',
    });
    expect(deployScript).toContain(`password: '${compose.services.postgres!.environment!.POSTGRES_PASSWORD}'`);
  });
});

describe("the network of LocalStack's Lambda containers", () => {
  const localstack = compose.services.localstack!;
  const lambdaNetwork = localstack.environment?.LAMBDA_DOCKER_NETWORK;

  it('is the compose network LocalStack, Postgres and Ollama are on, created by this file', () => {
    expect(lambdaNetwork).toBe('konstruct-localstack_default');
    // Without a `name` of its own, the network is named after the project: the file must fix that name.
    if (!compose.networks?.default?.name) expect(compose.name).toBe('konstruct-localstack');
    // LocalStack too: the functions call back into it (runtime API, SQS, Secrets Manager).
    for (const service of [localstack, compose.services.postgres!, compose.services.ollama!]) {
      expect(service.network_mode).toBeUndefined();
      expect(networkKeys(service).map(dockerNetworkName)).toContain(lambdaNetwork);
    }
    const key = networkKeys(compose.services.postgres!).find((k) => dockerNetworkName(k) === lambdaNetwork)!;
    expect(compose.networks?.[key]?.external ?? false).toBe(false);
  });

  it('is where LocalStack starts them: it has the Docker socket', () => {
    expect(localstack.volumes).toContain('/var/run/docker.sock:/var/run/docker.sock');
    expect(localstack.environment?.SERVICES?.split(',')).toContain('lambda');
  });

  it('reaches Postgres and Ollama by the service names and ports the deploy script gives the functions', () => {
    const database = deployScript.match(/host: '([^']+)',\s*port: (\d+)/);
    const ollama = deployScript.match(/ollamaBaseUrl=http:\/\/([^:/']+):(\d+)/);
    expect(database?.slice(1)).toEqual(['postgres', '5432']);
    expect(ollama?.slice(1)).toEqual(['ollama', '11434']);
    for (const [, host, port] of [database!, ollama!]) {
      const service = compose.services[host!];
      expect(service).toBeDefined();
      expect(containerPorts(service!)).toContain(Number(port));
    }
  });
});
