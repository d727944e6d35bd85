// One embedded Postgres and one SQS emulator for the whole run; every test file gets its own database
// (a copy of a migrated template) and its own queues, so files stay independent and can run in parallel.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { migrate } from '../migrations/migrate.ts';
import { startPostgres, type RunningPostgres } from '../local/postgres.ts';
import { startSqsEmulator } from '../local/sqs.ts';
import { TEMPLATE_DATABASE } from './helpers/database.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresAdminUrl: string;
    sqsEndpoint: string;
  }
}

export default async function setup(project: TestProject) {
  // The data directory's parent must be traversable by the postgres user (not 0700).
  const dir = mkdtempSync(join(tmpdir(), 'konstruct-test-pg-'));
  chmodSync(dir, 0o755);
  let postgres: RunningPostgres | undefined;
  let sqs: Awaited<ReturnType<typeof startSqsEmulator>> | undefined;
  const teardown = async () => {
    try {
      await sqs?.stop();
      await postgres?.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  try {
    postgres = await startPostgres(dir, { persistent: false });
    const adminUrl = postgres.url.replace(/\/konstruct$/, '/postgres');
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${TEMPLATE_DATABASE}`);
    await admin.end();
    const template = new pg.Client({ connectionString: adminUrl.replace(/\/postgres$/, `/${TEMPLATE_DATABASE}`) });
    await template.connect();
    await migrate(template);
    await template.end();

    // AWS_ENDPOINT_URL (e.g. LocalStack at http://localhost:4566) runs the suite against that SQS instead.
    sqs = process.env.AWS_ENDPOINT_URL ? undefined : await startSqsEmulator(0);
    project.provide('postgresAdminUrl', adminUrl);
    project.provide('sqsEndpoint', sqs?.endpoint ?? process.env.AWS_ENDPOINT_URL!);
  } catch (err) {
    await teardown(); // vitest runs no teardown for a setup that failed: leave no Postgres and no folder behind
    throw err;
  }
  return teardown;
}
