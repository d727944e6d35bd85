// The functions' bundles exactly as the stack builds them: synthesize the stack, find each function's asset.
import { mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { PROJECT_ROOT } from '../lib/bundling.ts';
import { KonstructStack } from '../lib/konstruct-stack.ts';

/** Logical-id fragments of the functions to report, by name. */
const FUNCTIONS = {
  complete: 'LlmPoolComplete',
  handleMessage: 'MessagesHandleMessage',
  migrate: 'DatabaseMigrate',
} as const;

export interface SynthesizedBundle {
  name: string;
  file: string;
  bytes: number;
  /** The function's NODE_OPTIONS in the template ('' when it sets none): the flags Lambda starts it with. */
  nodeOptions: string;
}

export function synthesizedBundles(): SynthesizedBundle[] {
  // Inside the project, so the bundles find `@aws-sdk/*` in node_modules as Lambda finds it in its runtime.
  const outdir = join(PROJECT_ROOT, 'dist', 'bench', 'cdk.out');
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  // cdk.json's context (the feature flags), as `cdk synth` gives it.
  const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8')) as { context: object };
  const app = new App({ outdir, context: { ...cdkJson.context, 'aws:cdk:enable-asset-metadata': true } });
  const stack = new KonstructStack(app, 'Bench', { env: { account: '123456789012', region: 'us-east-1' } });
  const assembly = app.synth();
  const resources = assembly.getStackByName(stack.stackName).template.Resources as Record<
    string,
    {
      Type: string;
      Metadata?: Record<string, string>;
      Properties: { Environment?: { Variables?: Record<string, unknown> } };
    }
  >;
  return Object.entries(FUNCTIONS).map(([name, fragment]) => {
    const [, resource] = Object.entries(resources).find(
      ([id, r]) => r.Type === 'AWS::Lambda::Function' && id.startsWith(fragment),
    )!;
    const file = join(outdir, resource.Metadata!['aws:asset:path']!, 'index.mjs');
    const nodeOptions = resource.Properties.Environment?.Variables?.NODE_OPTIONS;
    return { name, file, bytes: statSync(file).size, nodeOptions: typeof nodeOptions === 'string' ? nodeOptions : '' };
  });
}
