// `npm run db:migrate`: applies the migrations to DATABASE_URL.
import type pg from 'pg';
import { connectClient } from '../functions/common/db.ts';
import { migrate } from './migrate.ts';

const url = process.env.DATABASE_URL;
if (!url) {
  process.stderr.write(
    'DATABASE_URL is not set: point it at the Postgres to migrate, e.g. postgres://user:pass@localhost:5432/konstruct\n',
  );
  process.exit(1);
}
let client: pg.Client | undefined;
try {
  client = await connectClient({ connectionString: url });
  const applied = await migrate(client);
  process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
} catch (err) {
  process.stderr.write(`migration failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
} finally {
  await client?.end().catch(() => {});
}
