// Captures everything written to stdout and stderr while a test runs, to check what logs contain.
import { vi } from 'vitest';

export function captureOutput() {
  const chunks: string[] = [];
  const spies = [process.stdout, process.stderr].map((stream) =>
    vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
      chunks.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return true;
    }),
  );
  return {
    text: () => chunks.join(''),
    /** The JSON log lines written so far. */
    records: () =>
      chunks
        .join('')
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    restore: () => spies.forEach((spy) => spy.mockRestore()),
  };
}

/** Runs `fn` with stdout and stderr captured, and returns what was written (restored even if `fn` throws). */
export async function captureDuring(fn: () => Promise<unknown>): Promise<ReturnType<typeof captureOutput>> {
  const output = captureOutput();
  try {
    await fn();
    await new Promise((resolve) => setImmediate(resolve)); // per-call records leave at the end of the turn
  } finally {
    output.restore();
  }
  return output;
}
