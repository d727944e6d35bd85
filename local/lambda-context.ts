// A Lambda `Context` for the local runtime, whose remaining time counts down from the function's timeout.
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/** Methods live on the prototype: one of these is made per request, so nothing is allocated per method. */
class LocalContext implements Context {
  readonly callbackWaitsForEmptyEventLoop = false;
  readonly functionVersion = '$LATEST';
  readonly memoryLimitInMB = '1024';
  readonly logStreamName = 'local';
  readonly invokedFunctionArn: string;
  readonly logGroupName: string;
  readonly #deadline: number;

  constructor(
    readonly functionName: string,
    timeoutMs: number,
    readonly awsRequestId: string,
  ) {
    this.#deadline = Date.now() + timeoutMs;
    this.invokedFunctionArn = `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`;
    this.logGroupName = `/aws/lambda/${functionName}`;
  }

  getRemainingTimeInMillis(): number {
    return Math.max(0, this.#deadline - Date.now());
  }

  done(): void {}
  fail(): void {}
  succeed(): void {}
}

export function lambdaContext(functionName: string, timeoutMs: number, requestId: string = randomUUID()): Context {
  return new LocalContext(functionName, timeoutMs, requestId);
}
