// The deployment choices given by context: availability zones (synth never looks anything up) and limits.
import type { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { KonstructStack, StackConfigError, type KonstructStackProps } from '../../lib/konstruct-stack.ts';
import { appFactory, NO_BUNDLING } from './cdk-app.ts';

const newApp = appFactory('choices');

type Resource = { Properties: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Synthesizes without bundling the functions (no choice here depends on their code). */
function synth(props: KonstructStackProps) {
  const app = newApp(NO_BUNDLING);
  const stack: Stack = new KonstructStack(app, 'Test', props);
  const assembly = app.synth();
  return { template: Template.fromStack(stack), missing: assembly.manifest.missing ?? [] };
}

const subnetZones = (template: Template) =>
  (Object.values(template.findResources('AWS::EC2::Subnet')) as Resource[]).map((s) => s.Properties.AvailabilityZone);

describe('availability zones', () => {
  it('come from configuration, with no context lookup, when the stack has an account and region', () => {
    const { template, missing } = synth({
      env: { account: '111111111111', region: 'us-east-1' },
      availabilityZones: ['us-east-1c', 'us-east-1d'],
    });
    expect(missing).toEqual([]);
    expect(new Set(subnetZones(template))).toEqual(new Set(['us-east-1c', 'us-east-1d']));
  });

  it("default to the region's first two, with no context lookup", () => {
    const { template, missing } = synth({ env: { account: '111111111111', region: 'eu-west-1' } });
    expect(missing).toEqual([]);
    expect(new Set(subnetZones(template))).toEqual(new Set(['eu-west-1a', 'eu-west-1b']));
  });

  it('are left to CloudFormation (Fn::GetAZs) for an environment-agnostic stack, still with no lookup', () => {
    const { template, missing } = synth({});
    expect(missing).toEqual([]);
    const zones = subnetZones(template);
    expect(zones.length).toBeGreaterThan(0);
    for (const zone of zones) expect(JSON.stringify(zone)).toContain('Fn::GetAZs');
  });
});

const completeFunction = (template: Template) =>
  (Object.entries(template.findResources('AWS::Lambda::Function')) as [string, Resource][]).find(([id]) =>
    id.includes('Complete'),
  )![1];

describe('complete reserved concurrency', () => {
  it('reserves 50 executions for complete by default, which also caps it', () => {
    const { template } = synth({ env: { account: '111111111111', region: 'eu-west-1' } });
    expect(completeFunction(template).Properties.ReservedConcurrentExecutions).toBe(50);
  });

  it('takes the reservation from completeReservedConcurrency', () => {
    const { template } = synth({ completeReservedConcurrency: 7 });
    expect(completeFunction(template).Properties.ReservedConcurrentExecutions).toBe(7);
  });

  it('refuses a reservation that is not a positive whole number, saying what to set', () => {
    for (const bad of [0, -1, 2.5, Number.NaN]) {
      const attempt = () => synth({ completeReservedConcurrency: bad });
      expect(attempt).toThrow(StackConfigError);
      expect(attempt).toThrow(
        `-c completeReservedConcurrency=${bad} is not a positive whole number: set -c completeReservedConcurrency=<1, 2, …>.`,
      );
    }
  });
});

describe('NAT gateways', () => {
  const natGateways = (template: Template) => Object.keys(template.findResources('AWS::EC2::NatGateway')).length;

  it('are one by default', () => {
    expect(natGateways(synth({ env: { account: '111111111111', region: 'eu-west-1' } }).template)).toBe(1);
  });

  it('are as many as natGateways says, one per zone', () => {
    const { template } = synth({ env: { account: '111111111111', region: 'eu-west-1' }, natGateways: 2 });
    expect(natGateways(template)).toBe(2);
    const zones = (Object.values(template.findResources('AWS::EC2::NatGateway')) as Resource[]).map(
      (nat) =>
        (template.toJSON().Resources as Record<string, Resource>)[nat.Properties.SubnetId.Ref]!.Properties
          .AvailabilityZone,
    );
    expect(new Set(zones)).toEqual(new Set(['eu-west-1a', 'eu-west-1b']));
  });

  it('refuses none: the functions reach the model APIs through NAT', () => {
    expect(() => synth({ natGateways: 0 })).toThrow(StackConfigError);
  });
});

describe('database TLS', () => {
  it('refuses databaseTls=false with a new Aurora, saying what to set', () => {
    const attempt = () => synth({ databaseTls: false });
    expect(attempt).toThrow(StackConfigError);
    expect(attempt).toThrow(/Remove -c databaseTls=false, or set -c databaseSecretArn=/);
  });

  it('allows databaseTls=false with an existing database (LocalStack), which then connects without TLS', () => {
    const { template } = synth({
      databaseTls: false,
      databaseSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:konstruct/db-AbCdEf',
    });
    expect(Object.keys(template.findResources('AWS::RDS::DBCluster'))).toHaveLength(0);
    const handle = (Object.entries(template.findResources('AWS::Lambda::Function')) as [string, Resource][]).find(
      ([id]) => id.includes('HandleMessage'),
    )![1];
    expect(handle.Properties.Environment.Variables.DATABASE_TLS).toBe('off');
  });
});
