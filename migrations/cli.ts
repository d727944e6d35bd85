// `npm run db:migrate`: applies the migrations to DATABASE_URL and, with DATABASE_HANDLER_SECRET_ARN, sets the
// application login's password from that secret (as the deploy's migration step does).
import type pg from 'pg';
import { connectClient } from '../functions/common/db.ts';
import { putSecretJson, secretsManagerReader } from '../functions/common/secrets.ts';
import { applyHandlerSecret, connectedTo } from './handler-login.ts';
import { migrate } from './migrate.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  process.stderr.write(
    'DATABASE_URL is not set: point it at the Postgres to migrate, e.g. postgres://user:pass@localhost:5432/konstruct\n',
  );
  process.exit(1);
}
const handlerArn = process.env.DATABASE_HANDLER_SECRET_ARN;
let client: pg.Client | undefined;
try {
  client = await connectClient({ connectionString: url });
  const applied = await migrate(client);
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
  if (handlerArn) {
    const { completed } = await applyHandlerSecret(
      client,
      {
        read: () => secretsManagerReader(process.env, 0).readJson(handlerArn),
        write: (value) => putSecretJson(process.env, handlerArn, value),
      },
      connectedTo({ connectionString: url }),
    );
    process.stdout.write(`konstruct_handler's password set${completed ? '; its secret completed' : ''}\n`);
  }
} catch (err) {
  process.stderr.write(`migration failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await client?.end().catch(() => {});
}
