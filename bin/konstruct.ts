// The CDK app: `npx cdk synth` / `npx cdk deploy`, configured by context (-c key=value), never by lookups.
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { KonstructStack } from '../lib/konstruct-stack.ts';

const app = new App();
const context = (key: string): string | undefined => {
  const value = app.node.tryGetContext(key);
  return value === undefined || value === '' ? undefined : String(value);
};
const list = (key: string) =>
  context(key)
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);

const vpcId = context('vpcId');
new KonstructStack(app, context('stackName') ?? 'KonstructLlmCore', {
  existingVpc: vpcId
    ? {
        vpcId,
        availabilityZones: list('availabilityZones') ?? [],
        privateSubnetIds: list('privateSubnetIds') ?? [],
        publicSubnetIds: list('publicSubnetIds'),
      }
    : undefined,
  ollamaBaseUrl: context('ollamaBaseUrl'),
  ollamaEndpointServiceName: context('ollamaEndpointServiceName'),
  providerSecretArn: context('providerSecretArn'),
  databaseSecretArn: context('databaseSecretArn'),
  databaseHost: context('databaseHost'),
  databaseTls: context('databaseTls') !== 'false',
  deletionProtection: context('deletionProtection') !== 'false',
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
