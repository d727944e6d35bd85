// localstack-compose.yml: parses, and defines the services the README names, each with a health check.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const compose = parse(readFileSync(new URL('../../localstack-compose.yml', import.meta.url), 'utf8')) as {
  services: Record<string, { image: string; ports?: string[]; healthcheck?: { test: unknown }; environment?: Record<string, string> }>;
};
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

describe('localstack-compose.yml', () => {
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
    expect(compose.services.postgres!.environment).toMatchObject({ POSTGRES_USER: 'konstruct', POSTGRES_DB: 'konstruct' });
    const script = readFileSync(new URL('../../local/localstack-deploy.ts', import.meta.url), 'utf8');
    expect(script).toContain(`password: '${compose.services.postgres!.environment!.POSTGRES_PASSWORD}'`);
  });

  it('is the file the README tells users to start', () => {
    expect(readme).toContain('docker compose -f localstack-compose.yml up -d');
    for (const name of ['LocalStack', 'Postgres', 'Ollama']) expect(readme).toContain(name);
  });
});
