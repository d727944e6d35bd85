// Where handleMessage connects: DATABASE_URL, or the RDS secret with the RDS Proxy endpoint and verified TLS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseConfig } from '../../functions/common/db.ts';
import { secretsManagerReader } from '../../functions/common/secrets.ts';
import { FakeSecretsManager } from '../fakes/secrets-manager.ts';

const ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:konstruct/db-AbCdEf';
let secrets: FakeSecretsManager;
beforeAll(async () => {
  secrets = await new FakeSecretsManager().start();
  secrets.secrets.set(
    ARN,
    JSON.stringify({
      engine: 'postgres',
      host: 'cluster.internal',
      port: 5432,
      username: 'konstruct',
      password: 'p@ss',
      dbname: 'konstruct',
    }),
  );
});
afterAll(async () => {
  await secrets.stop();
});

const aws = () => ({ AWS_ENDPOINT_URL: secrets.url, AWS_ACCESS_KEY_ID: 'ASIA', AWS_SECRET_ACCESS_KEY: 's' });

describe('databaseConfig', () => {
  it('uses DATABASE_URL when set', async () => {
    expect(await databaseConfig({ DATABASE_URL: 'postgres://u:p@h/db' })).toEqual({
      connectionString: 'postgres://u:p@h/db',
    });
  });

  it("connects to the RDS Proxy endpoint, not the secret's host, with TLS verified", async () => {
    const env = { ...aws(), DATABASE_SECRET_ARN: ARN, DATABASE_HOST: 'proxy.proxy-abc.eu-west-1.rds.amazonaws.com' };
    const { password, ...config } = await databaseConfig(env, secretsManagerReader(env, 60_000));
    expect(config).toEqual({
      host: 'proxy.proxy-abc.eu-west-1.rds.amazonaws.com',
      port: 5432,
      user: 'konstruct',
      database: 'konstruct',
      ssl: { rejectUnauthorized: true },
    });
    expect(typeof password === 'function' && (await password())).toBe('p@ss');
    expect(secrets.lastRequest?.authorization).toMatch(/\/eu-west-1\/secretsmanager\/aws4_request/);
  });

  it('gives new connections the rotated password once the cached secret expires, without a cold start', async () => {
    const arn = `${ARN}-rotating`;
    secrets.secrets.set(arn, JSON.stringify({ host: 'h', username: 'konstruct_handler', password: 'before-rotation' }));
    const env = { ...aws(), DATABASE_SECRET_ARN: arn, DATABASE_HOST: 'proxy' };
    const { password } = await databaseConfig(env, secretsManagerReader(env, 0));
    if (typeof password !== 'function') throw new Error('the password must be read per connection');
    expect(await password()).toBe('before-rotation');
    secrets.secrets.set(arn, JSON.stringify({ host: 'h', username: 'konstruct_handler', password: 'after-rotation' }));
    expect(await password()).toBe('after-rotation');
  });

  it('says what to set when neither is given', async () => {
    await expect(databaseConfig({})).rejects.toThrow(/DATABASE_URL, or DATABASE_SECRET_ARN with DATABASE_HOST/);
  });

  it('names the Secrets Manager error without echoing the secret', async () => {
    const env = { ...aws(), DATABASE_SECRET_ARN: `${ARN}-gone` };
    await expect(databaseConfig(env, secretsManagerReader(env, 60_000))).rejects.toThrow(
      /400 ResourceNotFoundException/,
    );
  });
});
