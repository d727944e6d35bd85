// Alarms that reach someone: one topic (new and encrypted, or the deployer's), every alarm's action on it,
// and an alarm for each way the pipeline stops answering — the per-group ones on the metric complete writes.
import { Aspects, type Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { callRecord } from '../../functions/complete/cost.ts';
import { KonstructStack, StackConfigError, type KonstructStackProps } from '../../lib/konstruct-stack.ts';
import { useTempFolder } from '../helpers/temp-files.ts';
import { appFactory, NO_BUNDLING } from './cdk-app.ts';

const newApp = appFactory('alarms');
const files = useTempFolder('konstruct-alarms-');
type Resource = { Properties: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any

function synth(props: KonstructStackProps = {}): { stack: Stack; template: Template } {
  const app = newApp(NO_BUNDLING);
  const stack = new KonstructStack(app, 'Test', { env: { account: '123456789012', region: 'eu-west-1' }, ...props });
  Aspects.of(stack).add(new AwsSolutionsChecks());
  app.synth();
  return { stack, template: Template.fromStack(stack) };
}

const alarmsOf = (template: Template) =>
  Object.entries(template.findResources('AWS::CloudWatch::Alarm')) as [string, Resource][];
const alarmOn = (template: Template, metricName: string) =>
  alarmsOf(template).filter(([, a]) => a.Properties.MetricName === metricName);
/** The one alarm on `metricName` (fails if there is not exactly one). */
function oneAlarmOn(template: Template, metricName: string): Resource {
  const found = alarmOn(template, metricName);
  expect(found).toHaveLength(1);
  return found[0]![1];
}
const topicArn = 'arn:aws:sns:eu-west-1:123456789012:oncall';

describe('the alarm topic', () => {
  it('is new, encrypted with a key CloudWatch may use, TLS-only, and subscribes -c alarmEmail', () => {
    const { template } = synth({ alarmEmail: 'oncall@example.com' });
    const [topicId, topic] = Object.entries(template.findResources('AWS::SNS::Topic'))[0] as [string, Resource];
    const [keyId, key] = Object.entries(template.findResources('AWS::KMS::Key'))[0] as [string, Resource];
    expect(topic.Properties.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    expect(key.Properties.EnableKeyRotation).toBe(true);
    // The AWS-managed SNS key would refuse CloudWatch: its alarms could never publish.
    expect(key.Properties.KeyPolicy.Statement).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Principal: { Service: 'cloudwatch.amazonaws.com' },
          Action: expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']),
        }),
      ]),
    );
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'oncall@example.com',
      TopicArn: { Ref: topicId },
    });
    template.hasOutput('AlarmTopicArn', { Value: { Ref: topicId } });
  });

  it("is the deployer's with -c alarmTopicArn: no new topic or key, every alarm's action is that ARN", () => {
    const { template } = synth({ alarmTopicArn: topicArn });
    expect(template.findResources('AWS::SNS::Topic')).toEqual({});
    expect(template.findResources('AWS::KMS::Key')).toEqual({});
    for (const [, alarm] of alarmsOf(template)) {
      expect(alarm.Properties.AlarmActions).toEqual([topicArn]);
      expect(alarm.Properties.OKActions).toEqual([topicArn]);
    }
  });

  it('without either option still gets every alarm, and synth warns that nobody is subscribed', () => {
    const { stack, template } = synth();
    const [topicId] = Object.keys(template.findResources('AWS::SNS::Topic'));
    for (const [, alarm] of alarmsOf(template)) expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    expect(template.findResources('AWS::SNS::Subscription')).toEqual({});
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('alarmEmail'));
    expect(warnings.map((w) => w.entry.data)).toEqual([
      expect.stringContaining('nobody is subscribed to: set -c alarmEmail=… or -c alarmTopicArn=…'),
    ]);
  });

  it.each([
    ['alarmEmail', { alarmEmail: 'not an address' }],
    ['alarmTopicArn', { alarmTopicArn: 'arn:aws:sqs:eu-west-1:123456789012:oncall' }],
    ['alarmTopicArn', { alarmTopicArn: 'oncall' }],
  ])('refuses a malformed -c %s at synth, saying what to set', (key, props) => {
    expect(() => synth(props)).toThrow(StackConfigError);
    expect(() => synth(props)).toThrow(new RegExp(`-c ${key}=.* is not valid: set -c ${key}=`));
  });
});

describe('every alarm', () => {
  const { template } = synth({ alarmEmail: 'oncall@example.com' });
  const topicId = Object.keys(template.findResources('AWS::SNS::Topic'))[0]!;

  it('tells the topic when it fires and when it clears', () => {
    const alarms = alarmsOf(template);
    // DLQ, oldest message, 3 per function (errors, throttles, duration), one per group (fast, quality).
    expect(alarms).toHaveLength(1 + 1 + 3 * 2 + 2);
    for (const [, alarm] of alarms) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.AlarmDescription).toEqual(expect.any(String));
    }
  });

  it('watches the DLQ depth and the age of the oldest inbound message (a stuck conversation)', () => {
    const queueName = (alarm: Resource) => alarm.Properties.Dimensions[0].Value['Fn::GetAtt'][0] as string;
    expect(queueName(oneAlarmOn(template, 'ApproximateNumberOfMessagesVisible'))).toMatch(/^MessagesInboundDlq/);
    const oldest = oneAlarmOn(template, 'ApproximateAgeOfOldestMessage');
    expect(queueName(oldest)).toMatch(/^MessagesInbound[0-9A-F]{8}$/);
    // Three attempts of up to 180 s with 30 s and 60 s between them take about 12 minutes: 15 is stuck.
    expect(oldest.Properties).toMatchObject({ Threshold: 900, Statistic: 'Maximum' });
  });

  it('watches each function for errors, throttles and a duration at 80% of its timeout', () => {
    const functionOf = (alarm: Resource) => alarm.Properties.Dimensions[0].Value.Ref as string;
    for (const metric of ['Errors', 'Throttles'])
      expect(
        alarmOn(template, metric)
          .map(([, a]) => functionOf(a))
          .sort(),
      ).toEqual([expect.stringMatching(/^LlmPoolComplete/), expect.stringMatching(/^MessagesHandleMessage/)]);
    const durations = Object.fromEntries(
      alarmOn(template, 'Duration').map(([, a]) => [functionOf(a).replace(/[0-9A-F]{8}$/, ''), a.Properties]),
    );
    expect(durations).toEqual({
      LlmPoolComplete: expect.objectContaining({ Threshold: 96_000, Statistic: 'Maximum' }),
      MessagesHandleMessage: expect.objectContaining({ Threshold: 144_000, Statistic: 'Maximum' }),
    });
  });
});

describe('the Unavailable alarms', () => {
  it('are one per group of the built-in defaults, on the [group] dimension set alone', () => {
    const { template } = synth();
    const alarms = alarmOn(template, 'Unavailable').map(([, a]) => a.Properties);
    expect(alarms.map((a) => a.Dimensions)).toEqual([
      [{ Name: 'group', Value: 'fast' }],
      [{ Name: 'group', Value: 'quality' }],
    ]);
    for (const alarm of alarms) expect(alarm).toMatchObject({ Namespace: 'Konstruct', Statistic: 'Sum', Threshold: 1 });
  });

  it('are one per group of -c llmConfig, whatever characters its names use', () => {
    const path = files.file(
      'groups.yaml',
      [
        'model_list:',
        '  - model_name: openai/gpt-4o',
        '    litellm_params: { model: openai/gpt-4o }',
        '  - model_name: support_a',
        '    litellm_params: { model: anthropic/claude-sonnet-4-20250514 }',
        '  - model_name: support-a',
        '    litellm_params: { model: anthropic/claude-sonnet-4-20250514 }',
        '    model_info: { id: support-a-sonnet }',
        '  - model_name: openai/gpt-4o',
        '    litellm_params: { model: azure/gpt-4o, api_base: https://example.openai.azure.com }',
      ].join('\n'),
    );
    const { template } = synth({ llmConfig: path });
    const groups = alarmOn(template, 'Unavailable').map(([, a]) => a.Properties.Dimensions[0].Value);
    expect(groups).toEqual(['openai/gpt-4o', 'support_a', 'support-a']);
  });

  it('watch exactly the metric and dimension set complete writes for an unavailable call', () => {
    const { template } = synth();
    const [, alarm] = alarmOn(template, 'Unavailable').find(([, a]) => a.Properties.Dimensions[0].Value === 'quality')!;
    const record = callRecord({
      requestId: 'r-1',
      tenantId: 't-1',
      group: 'quality',
      outcome: 'unavailable',
      latencyMs: 12,
      attempts: [],
    });
    const [directive] = record._aws.CloudWatchMetrics;
    expect(directive!.Namespace).toBe(alarm.Properties.Namespace);
    expect(directive!.Metrics.map((m) => m.Name)).toContain(alarm.Properties.MetricName);
    expect(directive!.Dimensions).toContainEqual(alarm.Properties.Dimensions.map((d: { Name: string }) => d.Name));
    const alarmDimension = alarm.Properties.Dimensions[0] as { Name: 'group'; Value: string };
    expect(record[alarmDimension.Name]).toBe(alarmDimension.Value);
    expect(record.Unavailable).toBe(1);
  });
});
