// The CDK app as `npx cdk synth` builds it: cdk.json's context (the feature flags), each App in its own folder.
import { App, type AppProps } from 'aws-cdk-lib';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** cdk.json's context: what the CLI gives the app, so a test synthesizes the template that deploys. */
export const CDK_JSON_CONTEXT: Record<string, unknown> = JSON.parse(
  readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'),
).context;

/** Skips bundling the functions, for tests where nothing depends on their code. */
export const NO_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

/**
 * A factory of Apps that synthesize under one temporary folder, removed after the file's tests (else CDK
 * leaves a `cdk.out*` folder in the temp folder per App).
 */
export function appFactory(
  prefix: string,
): (context?: AppProps['context'], options?: { withoutCdkJson?: boolean }) => App {
  const outRoot = mkdtempSync(join(tmpdir(), `konstruct-${prefix}-`));
  afterAll(() => rmSync(outRoot, { recursive: true, force: true }));
  return (context = {}, { withoutCdkJson = false } = {}) =>
    new App({
      outdir: mkdtempSync(join(outRoot, 'app-')),
      context: { ...(withoutCdkJson ? {} : CDK_JSON_CONTEXT), ...context },
    });
}
