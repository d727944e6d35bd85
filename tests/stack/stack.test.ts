// The CDK stack, synthesized offline: every property the deployment promises, and cdk-nag clean.
import { Aspects, Stack, type App } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { KonstructStack, type KonstructStackProps } from '../../lib/konstruct-stack.ts';
import { appFactory } from './cdk-app.ts';

const newApp = appFactory('stack');

function synth(props: KonstructStackProps = {}): { stack: Stack; template: Template } {
  const app = newApp();
  const stack = new KonstructStack(app, 'Test', { env: { account: '123456789012', region: 'eu-west-1' }, ...props });
  Aspects.of(stack).add(new AwsSolutionsChecks());
  app.synth();
  return { stack, template: Template.fromStack(stack) };
}

type Resource = { Properties: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

let stack: Stack;
let template: Template;
beforeAll(() => {
  ({ stack, template } = synth());
}, 120_000);

const functionNamed = (fragment: string) => {
  const [id, fn] = Object.entries(template.findResources('AWS::Lambda::Function')).find(([id]) =>
    id.includes(fragment),
  )! as [string, Resource];
  return { id, fn };
};

describe('functions', () => {
  it('run Node 22 on arm64 with the timeouts of the contract', () => {
    const complete = functionNamed('Complete').fn;
    const handle = functionNamed('HandleMessage').fn;
    for (const fn of [complete, handle]) {
      expect(fn.Properties.Runtime).toBe('nodejs22.x');
      expect(fn.Properties.Architectures).toEqual(['arm64']);
    }
    expect(complete.Properties.Timeout).toBe(120);
    expect(handle.Properties.Timeout).toBe(180);
  });

  it('put complete and handleMessage in private subnets', () => {
    for (const name of ['Complete', 'HandleMessage']) {
      const subnets = functionNamed(name).fn.Properties.VpcConfig.SubnetIds as { Ref: string }[];
      expect(subnets.length).toBeGreaterThan(0);
      for (const ref of subnets) expect(ref.Ref).toMatch(/privateSubnet/);
    }
  });

  it('serve complete behind a Function URL with AWS_IAM auth', () => {
    template.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM' });
  });

  it('stream the Function URL of complete (invoke mode RESPONSE_STREAM), auth still AWS_IAM', () => {
    const urls = Object.values(template.findResources('AWS::Lambda::Url'));
    expect(urls).toHaveLength(1);
    expect(urls[0]!.Properties).toMatchObject({ AuthType: 'AWS_IAM', InvokeMode: 'RESPONSE_STREAM' });
  });

  it('configure handleMessage to sign its calls and reach the database through the proxy with TLS', () => {
    const env = functionNamed('HandleMessage').fn.Properties.Environment.Variables;
    expect(env.COMPLETE_AUTH).toBe('iam');
    expect(env.NODE_EXTRA_CA_CERTS).toBe('/var/runtime/ca-cert.pem');
    expect(env.DATABASE_HOST).toBeDefined();
    expect(JSON.stringify(env.DATABASE_HOST)).toMatch(/Proxy/);
  });
});

describe('cold start', () => {
  const functions = () => Object.entries(template.findResources('AWS::Lambda::Function')) as [string, Resource][];

  it('starts no function with --enable-source-maps (it slows every cold start import)', () => {
    expect(functions().length).toBeGreaterThanOrEqual(3);
    for (const [, fn] of functions()) {
      const options = String(fn.Properties.Environment?.Variables?.NODE_OPTIONS ?? '');
      expect(options).not.toContain('--enable-source-maps');
    }
  });

  it('ships each bundle with a source map that embeds no sources', () => {
    // Our bundles are the ESM assets (CDK's own handlers are CommonJS).
    const outdir = (stack.node.root as App).outdir;
    const assets = readdirSync(outdir).filter(
      (entry) => entry.startsWith('asset.') && readdirSync(join(outdir, entry)).includes('index.mjs'),
    );
    expect(assets.length).toBeGreaterThanOrEqual(3);
    for (const asset of assets) {
      const maps = readdirSync(join(outdir, asset)).filter((f) => f.endsWith('.map'));
      expect(maps).toHaveLength(1);
      const map = JSON.parse(readFileSync(join(outdir, asset, maps[0]!), 'utf8')) as {
        sources: string[];
        sourcesContent?: unknown;
      };
      expect(map.sources.length).toBeGreaterThan(0);
      expect(map.sourcesContent).toBeUndefined();
    }
  });
});

describe('queues', () => {
  it('are FIFO and encrypted, with SSL enforced', () => {
    const queues = Object.values(template.findResources('AWS::SQS::Queue')) as Resource[];
    expect(queues).toHaveLength(3);
    for (const q of queues) {
      expect(q.Properties.FifoQueue).toBe(true);
      expect(q.Properties.SqsManagedSseEnabled).toBe(true);
    }
    expect(Object.keys(template.findResources('AWS::SQS::QueuePolicy')).length).toBe(3);
  });

  it('redrive inbound messages to the DLQ after 3 receives, with visibility ≥ 6× the handler timeout', () => {
    const inbound = (Object.values(template.findResources('AWS::SQS::Queue')) as Resource[]).find(
      (q) => q.Properties.RedrivePolicy,
    )!;
    expect(inbound.Properties.RedrivePolicy.maxReceiveCount).toBe(3);
    expect(inbound.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * 180);
  });

  it('drive handleMessage with partial batch failures and bounded concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 5,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: Match.anyValue() },
    });
  });
});

describe('least privilege', () => {
  const statements = () =>
    Object.values(template.findResources('AWS::IAM::Policy')).flatMap(
      (p) => (p as Resource).Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
    );

  it('has no statement with "*" resources for sqs, lambda or secretsmanager actions', () => {
    for (const s of statements()) {
      const actions = [s.Action].flat();
      if (!actions.some((a) => /^(sqs|lambda|secretsmanager):/.test(a))) continue;
      expect([s.Resource].flat()).not.toContain('*');
    }
  });

  it('lets handleMessage shorten the visibility of the inbound records it fails, and names that queue', () => {
    const handle = functionNamed('HandleMessage');
    const inbound = Object.keys(template.findResources('AWS::SQS::Queue')).find(
      (id) => id.includes('Inbound') && !id.includes('Dlq'),
    )!;
    expect(JSON.stringify(handle.fn.Properties.Environment.Variables.INBOUND_QUEUE_URL)).toContain(inbound);
    const change = statements().filter(
      (s) => [s.Action].flat().includes('sqs:ChangeMessageVisibility') && JSON.stringify(s.Resource).includes(inbound),
    );
    expect(change.length).toBeGreaterThan(0);
  });

  it('lets handleMessage call only the complete function, by URL', () => {
    const invoke = statements().filter((s) => [s.Action].flat().some((a) => a.startsWith('lambda:Invoke')));
    const forHandle = invoke.filter((s) => [s.Action].flat().includes('lambda:InvokeFunctionUrl'));
    expect(forHandle).toHaveLength(1);
    expect([forHandle[0]!.Action].flat().sort()).toEqual(['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl']);
    expect(JSON.stringify(forHandle[0]!.Resource)).toContain(functionNamed('Complete').id);
  });
});

describe('database', () => {
  it('is Aurora Serverless v2 Postgres ≤ 17, encrypted, behind an RDS Proxy that requires TLS', () => {
    template.hasResourceProperties('AWS::RDS::DBCluster', {
      Engine: 'aurora-postgresql',
      StorageEncrypted: true,
      ServerlessV2ScalingConfiguration: Match.anyValue(),
    });
    const version = (Object.values(template.findResources('AWS::RDS::DBCluster'))[0] as Resource).Properties
      .EngineVersion as string;
    expect(Number(version.split('.')[0])).toBeLessThanOrEqual(17);
    template.hasResourceProperties('AWS::RDS::DBProxy', { RequireTLS: true });
  });

  it('applies the migrations on deploy with a custom resource that changes when the SQL does', () => {
    template.hasResourceProperties('AWS::CloudFormation::CustomResource', {
      MigrationsHash: Match.stringLikeRegexp('^[0-9a-f]{64}$'),
    });
  });
});

describe('outputs', () => {
  // The alarms: tests/stack/alarms.test.ts.
  it('output the Function URL and the queue URLs', () => {
    for (const name of ['CompleteUrl', 'InboundQueueUrl', 'RepliesQueueUrl', 'DeadLetterQueueUrl'])
      template.hasOutput(name, {});
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('reports findings this way, and a finding fails synth (a queue without encryption or DLQ is flagged)', () => {
    const app = newApp();
    const bare = new Stack(app, 'Bare');
    new Queue(bare, 'Plain', { encryption: QueueEncryption.UNENCRYPTED });
    Aspects.of(bare).add(new AwsSolutionsChecks());
    // cdk.json's flags turn error annotations into a failed synth, each finding in the message.
    expect(() => app.synth()).toThrow(/AwsSolutions-SQS2[^]*AwsSolutions-SQS3[^]*AwsSolutions-SQS4/);
  });

  it('has no unsuppressed finding in the Konstruct stack', () => {
    const findings = [
      ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
      ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ];
    expect(findings.map((f) => f.entry.data)).toEqual([]);
  });
});

describe('variants', () => {
  it('takes an existing VPC by attributes, an existing database by secret, and Ollama through an endpoint service', () => {
    const { template: t } = synth({
      existingVpc: {
        vpcId: 'vpc-0abc0123456789def',
        availabilityZones: ['eu-west-1a', 'eu-west-1b'],
        privateSubnetIds: ['subnet-0abc0123456789de1', 'subnet-0abc0123456789de2'],
      },
      databaseSecretArn: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:konstruct/db-AbCdEf',
      databaseHost: 'proxy.example.internal',
      ollamaEndpointServiceName: 'com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0',
    });
    expect(Object.keys(t.findResources('AWS::EC2::VPC'))).toHaveLength(0);
    expect(Object.keys(t.findResources('AWS::RDS::DBCluster'))).toHaveLength(0);
    t.hasResourceProperties('AWS::EC2::VPCEndpoint', {
      ServiceName: 'com.amazonaws.vpce.eu-west-1.vpce-svc-0123456789abcdef0',
      VpcEndpointType: 'Interface',
    });
    // The endpoint admits only the complete function's security group, on Ollama's port.
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: 'Ollama endpoint: only the complete function may connect',
      SecurityGroupIngress: [
        Match.objectLike({ FromPort: 11434, ToPort: 11434, SourceSecurityGroupId: Match.anyValue() }),
      ],
    });
  }, 120_000);
});
