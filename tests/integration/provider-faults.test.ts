// Provider answers that break mid-way, crawl or never end in size: each is one failed attempt, and the group's
// next deployment answers within the deadline — through the real handler, SDKs and wire-protocol fakes.
import { describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../functions/complete/config.ts';
import { useFakeProviders, type Behaviour, type FakeKind } from '../fakes/provider-server.ts';
import { completeFunction } from '../helpers/function-url.ts';
import { captureDuring } from '../helpers/log-capture.ts';
import { settlesWithin } from '../helpers/settles-within.ts';

const MODELS: Record<FakeKind, string> = {
  anthropic: 'anthropic/claude-sonnet-4-20250514',
  openai: 'openai/gpt-4o',
  ollama: 'ollama/qwen3:8b',
};
/** The healthy deployment listed after each faulty one. */
const BACKUP: Record<FakeKind, FakeKind> = { anthropic: 'openai', openai: 'anthropic', ollama: 'openai' };

/** The request's deadline; every answer must come well within it. */
const TIMEOUT_MS = 8_000;
/** Slack for a loaded machine on top of the deadline before a test calls it a hang. */
const MARGIN_MS = 4_000;

/** One group: the faulty deployment first (tried first: never measured, configuration order), then its backup. */
function groupWith(faulty: FakeKind, timeoutS?: number): ConfigFile {
  return {
    model_list: [
      {
        model_name: 'g',
        litellm_params: { model: MODELS[faulty], ...(timeoutS !== undefined && { timeout: timeoutS }) },
      },
      { model_name: 'g', litellm_params: { model: MODELS[BACKUP[faulty]] } },
    ],
  };
}

const fakes = useFakeProviders();

/**
 * Sends one request to group `g` while `faulty` behaves as told, and checks that its backup answered on the
 * second attempt; returns the answer and its cost record.
 */
async function callWithFault(faulty: FakeKind, behaviour: Behaviour, timeoutS?: number) {
  fakes[faulty].next(behaviour);
  let res: Awaited<ReturnType<ReturnType<typeof completeFunction>['complete']>> | undefined;
  const output = await captureDuring(async () => {
    res = await settlesWithin(
      completeFunction(fakes, { config: groupWith(faulty, timeoutS) }).complete({ model: 'g', timeout_ms: TIMEOUT_MS }),
      TIMEOUT_MS + MARGIN_MS,
      `timeout_ms ${TIMEOUT_MS} + a margin of ${MARGIN_MS}`,
    );
  });
  const record = output.records().find((r) => r.message === 'completion') as { attempts: Record<string, unknown>[] };
  expect(res!.status).toBe(200);
  expect(res!.body).toMatchObject({ model: MODELS[BACKUP[faulty]], attempts: 2 });
  return { res: res!, record };
}

const PROVIDERS: FakeKind[] = ['anthropic', 'openai', 'ollama'];
const MiB = 1024 * 1024;

describe('a body cut off mid-way is a failed attempt reported at once', () => {
  it.each(PROVIDERS.flatMap((p) => [[p, 'gzip'] as const, [p, 'plain'] as const]))(
    '%s, %s: the next deployment answers, the attempt is an error (not a timeout)',
    async (faulty, encoding) => {
      const { record } = await callWithFault(faulty, { cutAfter: 30, ...(encoding === 'gzip' && { encoding }) });
      expect(record.attempts[0]).toMatchObject({
        deployment: MODELS[faulty],
        outcome: 'error',
        error_code: 'response_incomplete',
      });
    },
  );
});

describe('a body that trickles past the attempt timeout is abandoned at the timeout', () => {
  it.each(PROVIDERS.flatMap((p) => [[p, 'gzip'] as const, [p, 'plain'] as const]))(
    '%s, %s: headers sent, body crawling; the next deployment answers within the deadline',
    async (faulty, encoding) => {
      const behaviour: Behaviour = { trickle: { bytes: 2, everyMs: 250 }, ...(encoding === 'gzip' && { encoding }) };
      const { res, record } = await callWithFault(faulty, behaviour, 1);
      expect(record.attempts[0]).toMatchObject({ deployment: MODELS[faulty], outcome: 'timeout' });
      expect(res.body.latency_ms).toBeLessThan(TIMEOUT_MS);
    },
  );
});

describe('an answer over 8 MiB is abandoned as a retryable failure', () => {
  it.each(PROVIDERS)('%s, 20 MB: reading stops, the next deployment answers', async (faulty) => {
    const { record } = await callWithFault(faulty, { padBytes: 20 * MiB });
    expect(record.attempts[0]).toMatchObject({
      deployment: MODELS[faulty],
      outcome: 'error',
      error_code: 'response_too_large',
    });
    const delivery = fakes[faulty].deliveries[0]!;
    await delivery.ended;
    expect(delivery.complete).toBe(false);
  });

  it.each(PROVIDERS)('%s, a gzip bomb (256 MiB of content): the next deployment answers', async (faulty) => {
    const { record } = await callWithFault(faulty, { encoding: 'gzip', padBytes: 256 * MiB });
    expect(record.attempts[0]).toMatchObject({
      deployment: MODELS[faulty],
      outcome: 'error',
      error_code: 'response_too_large',
    });
  });
});
