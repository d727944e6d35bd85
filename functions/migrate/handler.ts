// The migrations custom resource: on deploy, applies migrations/*.sql with the same code as `npm run db:migrate`,
// then sets the application login's password from its own secret.
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { connectClient, databaseConfig } from '../common/db.ts';
import { putSecretJson, secretsManagerReader } from '../common/secrets.ts';
import { migrate } from '../../migrations/migrate.ts';
import { applyHandlerSecret, connectedTo } from '../../migrations/handler-login.ts';

export async function handler(
  event: CloudFormationCustomResourceEvent,
): Promise<{ PhysicalResourceId: string; Data?: Record<string, string> }> {
  const PhysicalResourceId = 'konstruct-migrations';
  // Migrations only move forward: deleting the stack leaves the schema to the database's own removal policy.
  if (event.RequestType === 'Delete') return { PhysicalResourceId };
  const env = process.env;
  const config = await databaseConfig(env, secretsManagerReader(env, 60_000));
  const client = await connectClient(config);
  try {
    const applied = await migrate(client);
    console.log(JSON.stringify({ level: 'INFO', message: 'migrations applied', applied }));
    const handlerArn = env.DATABASE_HANDLER_SECRET_ARN;
    if (handlerArn) {
      const { completed } = await applyHandlerSecret(
        client,
        {
          // No cache: a rotation since the last deploy changed the password this step must set.
          read: () => secretsManagerReader(env, 0).readJson(handlerArn),
          write: (value) => putSecretJson(env, handlerArn, value),
        },
        connectedTo(config),
      );
      console.log(JSON.stringify({ level: 'INFO', message: 'application login password set', completed }));
    }
    return { PhysicalResourceId, Data: { Applied: applied.join(',') || 'none' } };
  } finally {
    await client.end();
  }
}
