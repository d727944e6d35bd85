// The migrations custom resource: on deploy, applies migrations/*.sql with the same code as `npm run db:migrate`.
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { connectClient, databaseConfig } from '../common/db.ts';
import { secretsManagerReader } from '../common/secrets.ts';
import { migrate } from '../../migrations/migrate.ts';

export async function handler(
  event: CloudFormationCustomResourceEvent,
): Promise<{ PhysicalResourceId: string; Data?: Record<string, string> }> {
  const PhysicalResourceId = 'konstruct-migrations';
  // Migrations only move forward: deleting the stack leaves the schema to the database's own removal policy.
  if (event.RequestType === 'Delete') return { PhysicalResourceId };
  const client = await connectClient(await databaseConfig(process.env, secretsManagerReader(process.env, 60_000)));
  try {
    const applied = await migrate(client);
    console.log(JSON.stringify({ level: 'INFO', message: 'migrations applied', applied }));
    return { PhysicalResourceId, Data: { Applied: applied.join(',') || 'none' } };
  } finally {
    await client.end();
  }
}
