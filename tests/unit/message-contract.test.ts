// The message side's pure rules: prompt building, SQS ids, and what enqueueMessage refuses.
import { describe, expect, it } from 'vitest';
import { buildMessages, buildSystemPrompt } from '../../functions/handle-message/prompt.ts';
import {
  conversationKey,
  deduplicationId,
  konstructMessageSchema,
  messageGroupId,
} from '../../functions/common/message.ts';
import { createSqsClient, enqueueMessage, InvalidMessageError } from '../../functions/common/queue.ts';
import { konstructMessage } from '../helpers/pipeline.ts';

const TENANT = '7d9f0a4e-5b1c-4c2d-9e8f-0a1b2c3d4e5f';

describe('buildSystemPrompt', () => {
  it('joins system prompt, name and role, persona and the AI-honesty rule with blank lines', () => {
    expect(
      buildSystemPrompt({ name: 'Ava', role: 'Customer Support', persona: 'Warm.', system_prompt: 'Acme rules.' }),
    ).toBe(
      'Acme rules.\n\nYour name is Ava. Your role is Customer Support.\n\nPersona: Warm.\n\nIf asked directly whether you are an AI, always respond honestly that you are an AI assistant.',
    );
  });

  it('leaves out an unset system prompt and uses the default persona', () => {
    expect(buildSystemPrompt({ name: 'Bo', role: 'Sales', persona: null, system_prompt: null })).toBe(
      'Your name is Bo. Your role is Sales.\n\nPersona: Professional and warm.\n\nIf asked directly whether you are an AI, always respond honestly that you are an AI assistant.',
    );
  });

  it('orders system, history, user in buildMessages', () => {
    expect(
      buildMessages('S', 'now', [
        { role: 'user', content: 'a' },
        { role: 'assistant', content: 'b' },
      ]),
    ).toEqual([
      { role: 'system', content: 'S' },
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b' },
      { role: 'user', content: 'now' },
    ]);
  });
});

describe('SQS ids', () => {
  it('groups by tenant and thread, else channel and sender', () => {
    expect(
      conversationKey({
        thread_id: 'T1',
        channel: 'slack',
        sender: { user_id: 'U1', display_name: '', is_bot: false },
      }),
    ).toBe('T1');
    expect(
      conversationKey({
        thread_id: null,
        channel: 'whatsapp',
        sender: { user_id: '+4912345', display_name: '', is_bot: false },
      }),
    ).toBe('whatsapp:+4912345');
    expect(messageGroupId(TENANT, 'T1')).toBe(`${TENANT}:T1`);
  });

  it('hashes keys that are too long or not ASCII punctuation and letters', () => {
    expect(messageGroupId(TENANT, 'x'.repeat(100))).toMatch(new RegExp(`^${TENANT}:[0-9a-f]{64}$`));
    expect(messageGroupId(TENANT, 'thread with spaces')).toMatch(/:[0-9a-f]{64}$/);
    expect(deduplicationId('slack-C123-1700000000.000100')).toBe('slack-C123-1700000000.000100');
    expect(deduplicationId('ü'.repeat(10))).toMatch(/^[0-9a-f]{64}$/);
    expect(deduplicationId('y'.repeat(129))).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('KonstructMessage schema', () => {
  it('ignores unknown keys and fills defaults', () => {
    const parsed = konstructMessageSchema.parse({
      ...konstructMessage(TENANT),
      gateway_extra: 1,
      channel_metadata: undefined,
      context: undefined,
    });
    expect(parsed).not.toHaveProperty('gateway_extra');
    expect(parsed.channel_metadata).toEqual({});
    expect(parsed.context).toEqual({});
  });

  it.each([
    ['a timestamp without offset', { timestamp: '2026-11-24T06:00:00' }],
    ['a non-UUID agent_id', { context: { agent_id: 'ava' } }],
    ['an empty sender id', { sender: { user_id: '' } }],
  ])('rejects %s', (_name, patch) => {
    expect(konstructMessageSchema.safeParse({ ...konstructMessage(TENANT), ...patch }).success).toBe(false);
  });

  it('accepts fractional seconds and offsets', () => {
    expect(
      konstructMessageSchema.safeParse({ ...konstructMessage(TENANT), timestamp: '2026-11-24T06:00:00.123+02:00' })
        .success,
    ).toBe(true);
  });
});

describe('enqueueMessage', () => {
  const target = { sqs: createSqsClient(), queueUrl: 'http://127.0.0.1:1/never-called.fifo' };
  it.each([
    ['no tenant', konstructMessage(null)],
    ['a hostile tenant', konstructMessage("x' OR 1=1 --")],
    ['a bad channel', { ...konstructMessage(TENANT), channel: 'irc' as 'slack' }],
  ])('refuses %s before any network call', async (_name, message) => {
    await expect(enqueueMessage(message, target)).rejects.toBeInstanceOf(InvalidMessageError);
  });
});
