// The CDK app: `npx cdk synth` / `npx cdk deploy` (context `ollamaBaseUrl` sets Ollama's private URL).
import { App } from 'aws-cdk-lib';
import { KonstructStack } from '../lib/konstruct-stack.ts';

const app = new App();
new KonstructStack(app, 'KonstructLlmCore', {
  llmPool: { ollamaBaseUrl: app.node.tryGetContext('ollamaBaseUrl') },
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
});
