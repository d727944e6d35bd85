// A message whose echoed fields leave no room for any reply in one SQS message fails before any database or LLM call.
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../functions/common/telemetry.ts';
import { PermanentFailure, processMessage, type MessageDeps } from '../../functions/handle-message/process-record.ts';

const TENANT = '7d9f2b1e-4c3a-4f5e-9a8b-1c2d3e4f5a6b';

function message(channelMetadataBytes: number) {
  return JSON.stringify({
    id: 'slack-C123-1',
    tenant_id: TENANT,
    channel: 'slack',
    channel_metadata: { blob: 'x'.repeat(channelMetadataBytes) },
    sender: { user_id: 'U123' },
    content: { text: 'Hi!' },
    timestamp: '2026-11-24T06:00:00Z',
  });
}

/** Dependencies that count what they were asked; the database answers nothing, so a call stops the test there. */
function countingDeps() {
  const calls = { database: 0, llm: 0, publish: 0 };
  const deps: MessageDeps = {
    withTenant: async () => {
      calls.database++;
      throw new Error('no database in this test');
    },
    runAgent: async () => {
      calls.llm++;
      throw new Error('no LLM in this test');
    },
    publishReply: async () => {
      calls.publish++;
    },
    newId: () => '00000000-0000-4000-8000-000000000009',
    historyLimit: 20,
    logger: createLogger('test'),
  };
  return { deps, calls };
}

describe('a reply that could never fit one SQS message', () => {
  it('is a permanent failure found before any database or LLM call', async () => {
    const { deps, calls } = countingDeps();
    const failure = await processMessage(message(1_048_576), deps, 120_000, 'sqs-1').catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(PermanentFailure);
    expect((failure as Error).message).toBe(
      'channel_metadata and thread_id leave no room for a reply in one SQS message',
    );
    expect(calls).toEqual({ database: 0, llm: 0, publish: 0 });
  });

  it('lets a message with room for a reply go on to the database', async () => {
    const { deps, calls } = countingDeps();
    await expect(processMessage(message(1_000), deps, 120_000, 'sqs-1')).rejects.toThrow('no database in this test');
    expect(calls.database).toBe(1);
  });
});
