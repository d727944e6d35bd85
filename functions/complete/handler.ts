// The `complete` Lambda entry: configuration, credentials, clients and router built once per cold start.
import { createDepsFromEnvironment, createHandler } from './app.ts';

export const handler = createHandler(createDepsFromEnvironment());
