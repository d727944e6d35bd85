// The stack's two database logins: handleMessage reads only the application's secret (konstruct_handler), the
// migration step alone reads the master; a new Aurora's secrets rotate; cdk-nag stays clean in every variant.
import { Aspects, type Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { KonstructStack, StackConfigError, type KonstructStackProps } from '../../lib/konstruct-stack.ts';
import { appFactory, NO_BUNDLING } from './cdk-app.ts';

const newApp = appFactory('dblogin');

type Resource = { Type: string; Properties: Record<string, any>; DependsOn?: string[]; Metadata?: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

const MASTER_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:konstruct/db-AbCdEf';
const APP_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:konstruct/handler-GhIjKl';

/** Synthesizes with cdk-nag, without bundling the functions (nothing here depends on their code). */
function synth(props: KonstructStackProps = {}) {
  const app = newApp(NO_BUNDLING);
  const stack: Stack = new KonstructStack(app, 'Test', {
    env: { account: '123456789012', region: 'eu-west-1' },
    ...props,
  });
  Aspects.of(stack).add(new AwsSolutionsChecks());
  app.synth();
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const idOf = (type: string, fragment: string) =>
    Object.keys(resources).find((id) => resources[id]!.Type === type && id.includes(fragment))!;
  const env = (fragment: string) =>
    resources[idOf('AWS::Lambda::Function', fragment)]!.Properties.Environment.Variables as Record<string, unknown>;
  /** The secretsmanager statements of the policies attached to a function's role, as JSON text. */
  const secretGrants = (fragment: string) => {
    const role = resources[idOf('AWS::Lambda::Function', fragment)]!.Properties.Role['Fn::GetAtt'][0] as string;
    return Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles).includes(`{"Ref":"${role}"}`))
      .flatMap((r) => r.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[])
      .filter((s) => [s.Action].flat().some((a) => a.startsWith('secretsmanager:')));
  };
  const nag = [
    ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
  ].map((f) => f.entry.data);
  return { template, resources, idOf, env, secretGrants, nag };
}

const ref = (id: string) => ({ Ref: id });
const granted = (statements: { Action: string | string[]; Resource: unknown }[], action: string, id: string) =>
  statements.some((s) => [s.Action].flat().includes(action) && JSON.stringify(s.Resource).includes(`"${id}"`));

describe('a new Aurora: two logins', () => {
  let s: ReturnType<typeof synth>;
  let master: string;
  let app: string;
  beforeAll(() => {
    s = synth();
    master = s.idOf('AWS::SecretsManager::SecretTargetAttachment', 'ClusterSecretAttachment');
    app = s.idOf('AWS::SecretsManager::SecretTargetAttachment', 'AppSecretAttachment');
  }, 120_000);

  it('generates the application secret for konstruct_handler and attaches it to the cluster', () => {
    const secret = s.resources[s.idOf('AWS::SecretsManager::Secret', 'DatabaseAppSecret')]!;
    expect(JSON.parse(secret.Properties.GenerateSecretString.SecretStringTemplate)).toEqual({
      username: 'konstruct_handler',
      dbname: 'konstruct',
    });
    expect(s.resources[app]!.Properties.TargetId).toEqual(ref(s.idOf('AWS::RDS::DBCluster', 'Cluster')));
  });

  it('gives handleMessage the application secret, through the proxy, and no read of the master', () => {
    const env = s.env('HandleMessage');
    expect(env.DATABASE_SECRET_ARN).toEqual(ref(app));
    expect(env.DATABASE_NAME).toBe('konstruct');
    expect(JSON.stringify(env.DATABASE_HOST)).toContain(s.idOf('AWS::RDS::DBProxy', 'Proxy'));
    const grants = s.secretGrants('HandleMessage');
    expect(granted(grants, 'secretsmanager:GetSecretValue', app)).toBe(true);
    expect(JSON.stringify(grants)).not.toContain(master);
  });

  it('lets the migration step alone read the master, and read and write the application secret', () => {
    const env = s.env('DatabaseMigrate');
    expect(env.DATABASE_SECRET_ARN).toEqual(ref(master));
    expect(env.DATABASE_HANDLER_SECRET_ARN).toEqual(ref(app));
    const grants = s.secretGrants('DatabaseMigrate');
    expect(granted(grants, 'secretsmanager:GetSecretValue', master)).toBe(true);
    expect(granted(grants, 'secretsmanager:GetSecretValue', app)).toBe(true);
    expect(granted(grants, 'secretsmanager:PutSecretValue', app)).toBe(true);
    expect(granted(grants, 'secretsmanager:PutSecretValue', master)).toBe(false);
  });

  it('registers both secrets with the RDS Proxy', () => {
    const auth = s.resources[s.idOf('AWS::RDS::DBProxy', 'Proxy')]!.Properties.Auth as { SecretArn: unknown }[];
    expect(auth.map((a) => a.SecretArn)).toEqual([ref(master), ref(app)]);
  });

  it('runs the migration step again for a new application secret, and processes no record before it', () => {
    const migrations = s.idOf('AWS::CloudFormation::CustomResource', 'Migrations');
    expect(s.resources[migrations]!.Properties.HandlerSecretArn).toEqual(ref(app));
    expect(s.resources[s.idOf('AWS::Lambda::Function', 'HandleMessage')]!.DependsOn).toContain(migrations);
    expect(s.resources[s.idOf('AWS::Lambda::EventSourceMapping', 'HandleMessage')]!.DependsOn).toContain(migrations);
  });

  it('rotates both secrets every 30 days with the hosted single-user rotation, once the migrations set the password', () => {
    const migrations = s.idOf('AWS::CloudFormation::CustomResource', 'Migrations');
    const schedules = Object.values(s.resources).filter((r) => r.Type === 'AWS::SecretsManager::RotationSchedule');
    expect(schedules.map((r) => r.Properties.SecretId).sort((x, y) => x.Ref.localeCompare(y.Ref))).toEqual(
      [ref(app), ref(master)].sort((x, y) => x.Ref.localeCompare(y.Ref)),
    );
    for (const schedule of schedules) {
      expect(schedule.Properties.HostedRotationLambda.RotationType).toBe('PostgreSQLSingleUser');
      expect(schedule.Properties.HostedRotationLambda.VpcSubnetIds).toBeDefined();
      expect(schedule.Properties.RotationRules.ScheduleExpression).toBe('rate(30 days)');
      expect(schedule.DependsOn).toContain(migrations);
    }
    // Each rotation function may reach the cluster (at the endpoint its secret names).
    const ingress = Object.values(s.resources).filter(
      (r) =>
        r.Type === 'AWS::EC2::SecurityGroupIngress' && r.Properties.Description === 'Secret rotation to the cluster',
    );
    expect(ingress).toHaveLength(2);
  });

  it('stays cdk-nag clean, accepting unrotated only the provider secret', () => {
    expect(s.nag).toEqual([]);
    const smg4 = Object.entries(s.resources)
      .filter(([, r]) => JSON.stringify(r.Metadata?.cdk_nag ?? {}).includes('AwsSolutions-SMG4'))
      .map(([id]) => id);
    expect(smg4).toEqual([s.idOf('AWS::SecretsManager::Secret', 'ProviderSecret')]);
  });
});

describe('an existing database: the master for migrations, the application secret for handleMessage', () => {
  it('generates the application secret when none is named; the migration step completes it', () => {
    const s = synth({ databaseSecretArn: MASTER_ARN, databaseHost: 'proxy.example.internal' });
    const generated = s.idOf('AWS::SecretsManager::Secret', 'DatabaseAppSecret');
    expect(JSON.parse(s.resources[generated]!.Properties.GenerateSecretString.SecretStringTemplate)).toEqual({
      username: 'konstruct_handler',
    });
    expect(s.env('HandleMessage')).toMatchObject({
      DATABASE_SECRET_ARN: ref(generated),
      DATABASE_HOST: 'proxy.example.internal',
    });
    expect(s.env('DatabaseMigrate')).toMatchObject({
      DATABASE_SECRET_ARN: MASTER_ARN,
      DATABASE_HANDLER_SECRET_ARN: ref(generated),
      DATABASE_HOST: 'proxy.example.internal',
    });
    expect(JSON.stringify(s.secretGrants('HandleMessage'))).not.toContain(MASTER_ARN.slice(0, -7));
    expect(granted(s.secretGrants('DatabaseMigrate'), 'secretsmanager:PutSecretValue', generated)).toBe(true);
    expect(Object.keys(s.template.findResources('AWS::SecretsManager::RotationSchedule'))).toEqual([]);
    expect(s.nag).toEqual([]);
    // Its SMG4 acceptance is on that secret, not the stack.
    expect(JSON.stringify(s.resources[generated]!.Metadata.cdk_nag)).toContain('AwsSolutions-SMG4');
  }, 120_000);

  it('uses the named application secret, and generates none', () => {
    const s = synth({ databaseSecretArn: MASTER_ARN, databaseAppSecretArn: APP_ARN });
    expect(Object.keys(s.template.findResources('AWS::SecretsManager::Secret'))).toEqual([
      s.idOf('AWS::SecretsManager::Secret', 'ProviderSecret'),
    ]);
    expect(s.env('HandleMessage').DATABASE_SECRET_ARN).toBe(APP_ARN);
    expect(s.env('HandleMessage').DATABASE_HOST).toBeUndefined(); // the secret's host, completed by the migration step
    expect(s.env('DatabaseMigrate')).toMatchObject({
      DATABASE_SECRET_ARN: MASTER_ARN,
      DATABASE_HANDLER_SECRET_ARN: APP_ARN,
    });
    const handleGrants = JSON.stringify(s.secretGrants('HandleMessage'));
    expect(handleGrants).toContain('konstruct/handler-GhIjKl');
    expect(handleGrants).not.toContain('konstruct/db-AbCdEf');
    expect(JSON.stringify(s.secretGrants('DatabaseMigrate'))).toContain('konstruct/db-AbCdEf');
    expect(s.nag).toEqual([]);
  }, 120_000);

  it('refuses an application secret without the master secret, saying what to set', () => {
    expect(() => synth({ databaseAppSecretArn: APP_ARN })).toThrow(StackConfigError);
    expect(() => synth({ databaseAppSecretArn: APP_ARN })).toThrow(/set -c databaseSecretArn=/);
  });
});
