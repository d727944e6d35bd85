// `npm run localstack:deploy`: deploys the same stack to LocalStack with cdklocal, using the compose
// Postgres through `databaseSecretArn` (no Aurora) and the compose Ollama, then prints the URLs.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AwsClient } from 'aws4fetch';
import { STATE_DIR } from './runtime-state.ts';

const endpoint = process.env.AWS_ENDPOINT_URL || 'http://localhost:4566';
const region = process.env.AWS_REGION || 'us-east-1';
const env = {
  ...process.env,
  AWS_ENDPOINT_URL: endpoint,
  AWS_REGION: region,
  AWS_DEFAULT_REGION: region,
  AWS_ACCESS_KEY_ID: process.env.AWS_ACCESS_KEY_ID || 'test',
  AWS_SECRET_ACCESS_KEY: process.env.AWS_SECRET_ACCESS_KEY || 'test',
  CDK_DEFAULT_ACCOUNT: '000000000000',
  CDK_DEFAULT_REGION: region,
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};
const say = (line: string) => process.stdout.write(`${line}\n`);
function fail(message: string): never {
  process.stderr.write(`✗ ${message}\n`);
  process.exit(1);
}

say(`• checking LocalStack at ${endpoint}…`);
try {
  const health = await fetch(`${endpoint}/_localstack/health`);
  if (!health.ok) throw new Error(`status ${health.status}`);
} catch (err) {
  fail(
    `LocalStack is not reachable (${(err as Error).message}). Start it: docker compose -f localstack-compose.yml up -d --wait`,
  );
}

// The compose Postgres, as an RDS-style secret; the functions reach it by its service name.
say('• storing the compose Postgres as the database secret…');
const sm = new AwsClient({
  accessKeyId: env.AWS_ACCESS_KEY_ID,
  secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
  service: 'secretsmanager',
  region,
});
async function secretsManager(target: string, body: unknown): Promise<Record<string, string>> {
  const res = await sm.fetch(endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': `secretsmanager.${target}` },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as Record<string, string>;
  if (!res.ok && !String(json.__type).includes('ResourceExists'))
    fail(`Secrets Manager ${target} failed: ${json.__type ?? res.status}`);
  return json;
}
const name = 'konstruct/localstack-database';
const value = {
  engine: 'postgres',
  host: 'postgres',
  port: 5432,
  username: 'konstruct',
  password: 'konstruct-local',
  dbname: 'konstruct',
};
await secretsManager('CreateSecret', { Name: name, SecretString: JSON.stringify(value) });
const { ARN: databaseSecretArn } = await secretsManager('DescribeSecret', { SecretId: name });

const cdklocal = (args: string[]) => {
  say(`• cdklocal ${args[0]}…`);
  const run = spawnSync('npx', ['cdklocal', ...args], { env, stdio: 'inherit' });
  if (run.status !== 0) fail(`cdklocal ${args[0]} failed (exit ${run.status}); see its output above.`);
};
mkdirSync(STATE_DIR, { recursive: true });
const outputsFile = join(STATE_DIR, 'localstack-outputs.json');
cdklocal(['bootstrap', `aws://000000000000/${region}`]);
cdklocal([
  'deploy',
  '--require-approval',
  'never',
  '--outputs-file',
  outputsFile,
  '-c',
  `databaseSecretArn=${databaseSecretArn}`,
  '-c',
  'databaseTls=false',
  '-c',
  'deletionProtection=false',
  '-c',
  'ollamaBaseUrl=http://ollama:11434',
]);

const outputs =
  Object.values(JSON.parse(readFileSync(outputsFile, 'utf8')) as Record<string, Record<string, string>>)[0] ?? {};
say('\n✓ deployed to LocalStack');
for (const [key, url] of Object.entries(outputs)) say(`  ${key.padEnd(20)} ${url}`);
