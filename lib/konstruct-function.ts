// One place for what every Konstruct function shares: Node 22 on arm64, local esbuild bundling, a log group.
import { RemovalPolicy, type Duration } from 'aws-cdk-lib';
import { Architecture, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, type NodejsFunctionProps } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { bundling, FUNCTION_ENTRIES, PROJECT_ROOT } from './bundling.ts';

export interface KonstructFunctionProps extends Omit<
  NodejsFunctionProps,
  'entry' | 'runtime' | 'architecture' | 'timeout'
> {
  /** Which function of `FUNCTION_ENTRIES`. */
  readonly function: keyof typeof FUNCTION_ENTRIES;
  readonly timeout: Duration;
}

export function konstructFunction(
  scope: Construct,
  id: string,
  { function: name, bundling: extra, ...props }: KonstructFunctionProps,
): NodejsFunction {
  return new NodejsFunction(scope, id, {
    entry: `${PROJECT_ROOT}${FUNCTION_ENTRIES[name]}`,
    projectRoot: PROJECT_ROOT,
    depsLockFilePath: `${PROJECT_ROOT}package-lock.json`,
    runtime: Runtime.NODEJS_22_X,
    architecture: Architecture.ARM_64,
    logGroup: new LogGroup(scope, `${id}Logs`, {
      retention: RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    }),
    ...props,
    bundling: bundling(extra),
  });
}
