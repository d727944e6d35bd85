// cdk-nag AwsSolutions findings this stack accepts, each with the reason it is accepted.
import type { Stack } from 'aws-cdk-lib';
import { NagSuppressions } from 'cdk-nag';

export function suppressAcceptedFindings(stack: Stack): void {
  NagSuppressions.addStackSuppressions(stack, [
    {
      id: 'AwsSolutions-IAM4',
      reason:
        "Lambda functions use the AWS managed AWSLambdaBasicExecutionRole (log writing) and, in a VPC, AWSLambdaVPCAccessExecutionRole (ENI management): they grant nothing else, and AWS keeps them current. This includes the CDK-provided function that strips the new VPC's default security group of its rules.",
    },
    {
      id: 'AwsSolutions-IAM5',
      reason:
        'Wildcards come from CDK grants scoped to one resource (secret version suffixes `-??????`, the custom-resource provider invoking its own handler versions `:*`), from X-Ray/ENI actions that have no resource-level permissions, and, only when the router configuration names a Bedrock application inference profile, from its foundation models (unknown at synth), granted in any region but only through that profile (a `bedrock:InferenceProfileArn` condition).',
    },
    {
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the runtime the product targets and tests against; the custom-resource provider framework picks its own runtime.',
    },
    {
      id: 'AwsSolutions-SMG4',
      reason:
        'Provider API keys are issued by Anthropic/OpenAI and rotated there; the database secret is read through RDS Proxy, and rotation is an operator choice documented in the README.',
    },
    {
      id: 'AwsSolutions-SQS3',
      reason:
        'The replies queue and the DLQ themselves have no DLQ: replies are consumed by the channel gateways (their own redrive), and a DLQ of a DLQ only moves the problem.',
    },
  ]);
}
