// The `handleMessage` Lambda entry: pool, SQS client and `complete` client built once per cold start.
import { createDepsFromEnvironment, createHandler } from './app.ts';

export const handler = createHandler(createDepsFromEnvironment());
