// The stack's alarms and where they go: one SNS topic (new, encrypted, with an email subscription, or an
// existing one), and an alarm for each way the pipeline stops answering people.
import { Annotations, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, Metric, TreatMissingData, type IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Topic, type ITopic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE } from '../functions/common/telemetry.ts';

/** A function watched for errors, throttles and a duration near its timeout. */
export interface WatchedFunction {
  /** The name in the alarm's id and description. */
  readonly name: string;
  readonly function: IFunction;
  readonly timeout: Duration;
}

export interface AlarmsProps {
  /** Subscribe this address to the topic (SNS sends it a confirmation email first). */
  readonly alarmEmail?: string;
  /** Send the alarms to this existing topic instead of a new one. */
  readonly alarmTopicArn?: string;
  readonly inbound: IQueue;
  readonly deadLetters: IQueue;
  readonly functions: WatchedFunction[];
  /** The router's groups: one `Unavailable` alarm each. */
  readonly groups: readonly string[];
}

/**
 * How old the oldest inbound message may get before someone is told: a record's normal worst case is three
 * attempts of up to 180 s with 30 s and 60 s between them (about 12 minutes) before it is dead-lettered.
 */
export const OLDEST_MESSAGE_ALARM_AGE = Duration.minutes(15);

/** A duration at this share of the function's timeout alarms: the next slow call may be cut off. */
export const DURATION_ALARM_SHARE = 0.8;

/** What `-c alarmEmail=` and `-c alarmTopicArn=` must look like (checked by the stack, which says what to set). */
export const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
export const TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;

export class Alarms extends Construct {
  readonly topic: ITopic;
  readonly alarms: Alarm[] = [];

  constructor(scope: Construct, id: string, props: AlarmsProps) {
    super(scope, id);
    this.topic = props.alarmTopicArn ? Topic.fromTopicArn(this, 'Topic', props.alarmTopicArn) : this.newTopic();
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));
    else if (!props.alarmTopicArn)
      Annotations.of(this).addWarning(
        'the alarms go to a new SNS topic nobody is subscribed to: set -c alarmEmail=… or -c alarmTopicArn=…',
      );

    this.alarmOn(
      'DlqNotEmpty',
      'Messages that could not be answered are waiting in the dead-letter queue.',
      props.deadLetters.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
      1,
    );
    this.alarmOn(
      'InboundOldestMessage',
      `The oldest inbound message is over ${OLDEST_MESSAGE_ALARM_AGE.toMinutes()} minutes old: a conversation is stuck.`,
      props.inbound.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(1), statistic: 'Maximum' }),
      OLDEST_MESSAGE_ALARM_AGE.toSeconds(),
    );
    for (const { name, function: fn, timeout } of props.functions) {
      const period = Duration.minutes(5);
      this.alarmOn(`${name}Errors`, `${name} function errors.`, fn.metricErrors({ period }), 1);
      this.alarmOn(`${name}Throttles`, `${name} invocations throttled.`, fn.metricThrottles({ period }), 1);
      const nearTimeout = Math.round(timeout.toMilliseconds() * DURATION_ALARM_SHARE);
      this.alarmOn(
        `${name}DurationNearTimeout`,
        `A ${name} invocation ran over ${DURATION_ALARM_SHARE * 100}% of its ${timeout.toSeconds()} s timeout.`,
        fn.metricDuration({ period, statistic: 'Maximum' }),
        nearTimeout,
      );
    }
    for (const group of props.groups) {
      this.alarmOn(
        `Unavailable${alarmIdPart(group)}`,
        `Requests for the group "${group}" found no deployment that answered (complete's Unavailable metric).`,
        new Metric({
          namespace: METRICS_NAMESPACE,
          metricName: 'Unavailable',
          dimensionsMap: { group },
          statistic: 'Sum',
          period: Duration.minutes(5),
        }),
        1,
      );
    }
  }

  /** A topic encrypted with its own key, which CloudWatch may use (the AWS-managed SNS key refuses it). */
  private newTopic(): Topic {
    const key = new Key(this, 'TopicKey', {
      description: 'Konstruct alarm topic encryption',
      enableKeyRotation: true,
      // Only the topic's messages depend on it; deleting the stack schedules its deletion.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    return new Topic(this, 'Topic', {
      displayName: `Konstruct alarms (${Stack.of(this).stackName})`,
      masterKey: key,
      enforceSSL: true,
    });
  }

  private alarmOn(id: string, description: string, metric: IMetric, threshold: number): void {
    const alarm = new Alarm(this, id, {
      alarmDescription: description,
      metric,
      threshold,
      evaluationPeriods: 1,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    alarm.addAlarmAction(new SnsAction(this.topic));
    alarm.addOkAction(new SnsAction(this.topic));
    this.alarms.push(alarm);
  }
}

/** A group name as part of a construct id: letters and digits kept, anything else spelled by its code. */
function alarmIdPart(group: string): string {
  return [...group].map((c) => (/[A-Za-z0-9]/.test(c) ? c : `_${c.codePointAt(0)!.toString(16)}_`)).join('');
}
