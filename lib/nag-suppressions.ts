// cdk-nag AwsSolutions findings this stack accepts, each with the reason it is accepted.
import type { Stack } from 'aws-cdk-lib';
import { Secret, type ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { NagSuppressions } from 'cdk-nag';

/** Secrets the stack creates and does not rotate, each accepted for its own reason. */
export interface UnrotatedSecrets {
  /** The provider API keys (a new secret to fill in, or an existing one). */
  readonly providerSecret: ISecret;
  /** An existing database's application secret, when the stack generated it. */
  readonly existingDatabaseAppSecret?: ISecret;
}

export function suppressAcceptedFindings(stack: Stack, unrotated: UnrotatedSecrets): void {
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
      id: 'AwsSolutions-SQS3',
      reason:
        'The replies queue and the DLQ themselves have no DLQ: replies are consumed by the channel gateways (their own redrive), and a DLQ of a DLQ only moves the problem.',
    },
  ]);
  // Resource-level: a new Aurora's two secrets rotate every 30 days, so only these are accepted unrotated.
  const accept = (secret: ISecret | undefined, reason: string) => {
    if (secret instanceof Secret)
      NagSuppressions.addResourceSuppressions(secret, [{ id: 'AwsSolutions-SMG4', reason }]);
  };
  accept(
    unrotated.providerSecret,
    'Provider API keys are issued by Anthropic, OpenAI and Azure: a new key is made there, and the operator puts it in this secret; no rotation function can issue one.',
  );
  accept(
    unrotated.existingDatabaseAppSecret,
    "The application's secret for an existing database: the stack knows neither that database's network nor its administrators, so it runs no rotation against it; the operator rotates it by putting a new password and running `npm run db:migrate` with DATABASE_HANDLER_SECRET_ARN, which sets the login's password from the secret.",
  );
}
