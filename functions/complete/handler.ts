// The `complete` Lambda entry: configuration, credentials, clients and router built once per cold start.
import { createDepsFromEnvironment, createHandler, streamingEntry } from './app.ts';

export const handler = streamingEntry(createHandler(createDepsFromEnvironment()));
