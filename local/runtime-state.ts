// What a running `npm start` tells `npm run send`: where the queues are and who the demo tenant is.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Local state (database files, runtime.json): `.konstruct/` in the repository, or `KONSTRUCT_STATE_DIR`. */
export const STATE_DIR = process.env.KONSTRUCT_STATE_DIR || fileURLToPath(new URL('../.konstruct/', import.meta.url));
const FILE = join(STATE_DIR, 'runtime.json');

export interface RuntimeState {
  pid: number;
  sqsEndpoint: string;
  region: string;
  queues: { inbound: string; dlq: string; replies: string };
  completeUrl: string;
  demoTenantId: string;
  demoAgentId: string;
}

export function writeRuntimeState(state: RuntimeState): void {
  mkdirSync(STATE_DIR, { recursive: true, mode: 0o755 });
  writeFileSync(FILE, JSON.stringify(state, null, 2));
}

export function readRuntimeState(): RuntimeState | undefined {
  try {
    return JSON.parse(readFileSync(FILE, 'utf8')) as RuntimeState;
  } catch {
    return undefined;
  }
}

export function clearRuntimeState(): void {
  rmSync(FILE, { force: true });
}
