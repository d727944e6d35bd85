// The CDK app: `npx cdk synth` / `npx cdk deploy`, configured by context (-c key=value), never by lookups.
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { KonstructStack, StackConfigError } from '../lib/konstruct-stack.ts';
import { LlmConfigError } from '../lib/llm-config.ts';

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

const numeric = (key: string) => (context(key) === undefined ? undefined : Number(context(key)));

const vpcId = context('vpcId');
const stackProps = {
  availabilityZones: list('availabilityZones'),
  natGateways: numeric('natGateways'),
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
  llmConfig: context('llmConfig'),
  providerSecretArn: context('providerSecretArn'),
  databaseSecretArn: context('databaseSecretArn'),
  databaseAppSecretArn: context('databaseAppSecretArn'),
  databaseHost: context('databaseHost'),
  databaseTls: context('databaseTls') !== 'false',
  deletionProtection: context('deletionProtection') !== 'false',
  completeReservedConcurrency: numeric('completeReservedConcurrency'),
  alarmEmail: context('alarmEmail'),
  alarmTopicArn: context('alarmTopicArn'),
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
};
try {
  new KonstructStack(app, context('stackName') ?? 'KonstructLlmCore', stackProps);
} catch (err) {
  // A configuration that cannot deploy is the user's to fix: its message, not a stack trace.
  if (!(err instanceof LlmConfigError || err instanceof StackConfigError)) throw err;
  process.stderr.write(`✗ ${err.message}\n`);
  process.exit(1);
}
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
