// The message side's size and shape limits as pure rules: poison detection, history trimming, the reply cut.
import { describe, expect, it } from 'vitest';
import {
  MAX_NESTING,
  replyTextThatFits,
  serializeReply,
  structuralProblem,
  type Reply,
} from '../../functions/common/message.ts';
import { trimHistory, type HistoryTurn } from '../../functions/handle-message/prompt.ts';

/** A reply record with fixed ids, so sizes depend on the text alone. */
const reply = (text: string): Reply => ({
  id: '00000000-0000-4000-8000-000000000001',
  in_reply_to: 'm-1',
  tenant_id: '00000000-0000-4000-8000-000000000002',
  agent_id: null,
  channel: 'slack',
  channel_metadata: {},
  thread_id: null,
  content: { text },
  model: null,
  usage: null,
  fallback: false,
  created_at: '2026-11-24T06:00:00.000Z',
});

describe('structuralProblem', () => {
  it('names the path of a NUL in a value or a key, never the value or the key', () => {
    expect(structuralProblem({ a: { b: ['ok', 'se\u0000cret'] } })).toBe(
      'a.b[1]: contains U+0000, which cannot be stored',
    );
    expect(structuralProblem({ a: { ['se\u0000cret']: 1 } })).toBe(
      'a[key 0]: a key contains U+0000, which cannot be stored',
    );
    expect(structuralProblem({ 'not a field name': 'x\u0000' })).toBe(
      '[key 0]: contains U+0000, which cannot be stored',
    );
    expect(structuralProblem('\u0000')).toBe('(root): contains U+0000, which cannot be stored');
  });

  it('accepts the six characters \\u0000 typed as text', () => {
    expect(structuralProblem(JSON.parse('{"text": "\\\\u0000"}'))).toBeUndefined();
  });

  it('counts the top-level object as level 1 and each object or array as one more', () => {
    const deep = (levels: number): unknown => (levels === 1 ? [] : [deep(levels - 1)]);
    expect(structuralProblem({ a: deep(MAX_NESTING - 1) })).toBeUndefined();
    expect(structuralProblem({ a: deep(MAX_NESTING) })).toBe(
      `a${'[0]'.repeat(MAX_NESTING - 1)}: nested deeper than 32 levels`,
    );
    expect(structuralProblem({ a: [1, 'two', null, true] })).toBeUndefined();
  });

  it('keeps a long path short', () => {
    const key = 'k'.repeat(60);
    let value: unknown = {};
    for (let i = 0; i < 40; i++) value = { [key]: value };
    expect(structuralProblem(value)!.length).toBeLessThan(256);
  });
});

describe('trimHistory', () => {
  const turn = (role: HistoryTurn['role'], content: string): HistoryTurn => ({ role, content });
  const cost = (turns: HistoryTurn[]) => turns.reduce((sum, t) => sum + Buffer.byteLength(JSON.stringify(t)) + 1, 0);
  const history = [
    turn('assistant', 'orphan reply'),
    turn('user', 'u1'),
    turn('assistant', 'a1'),
    turn('user', 'u2 (its reply was a fallback)'),
    turn('user', 'u3'),
    turn('assistant', 'a3'),
  ];

  it('keeps everything that fits', () => {
    expect(trimHistory(history, cost(history))).toEqual(history);
  });

  it('drops whole exchanges, oldest first: a leading orphan reply, then a user turn with its replies', () => {
    expect(trimHistory(history, cost(history) - 1)).toEqual(history.slice(1));
    expect(trimHistory(history, cost(history.slice(1)) - 1)).toEqual(history.slice(3));
    expect(trimHistory(history, cost(history.slice(4)))).toEqual(history.slice(4));
  });

  it('sends no history when nothing fits, or the budget is already spent', () => {
    expect(trimHistory(history, 5)).toEqual([]);
    expect(trimHistory(history, -100)).toEqual([]);
  });
});

describe('replyTextThatFits', () => {
  const size = (text: string) => Buffer.byteLength(serializeReply(reply(text)));

  it('leaves a text that fits as it is', () => {
    expect(replyTextThatFits(reply('hello'), size('hello'))).toBe('hello');
  });

  it('cuts to the longest prefix that fits, never inside a surrogate pair', () => {
    const text = 'ab😀cd';
    expect(replyTextThatFits(reply(text), size('ab😀c') - 1)).toBe('ab😀');
    for (let missing = 1; missing <= 4; missing++)
      expect(replyTextThatFits(reply(text), size('ab😀') - missing)).toBe('ab');
  });

  it.each([
    ['escaped quotes and backslashes', 'say "hi" \\ ok'],
    ['newlines and control characters', 'a\nb\u0001c\td'],
    ['2-, 3- and 4-byte UTF-8', 'é€😀é€😀'],
    ['lone surrogates, U+FFFE and U+FFFF (escaped)', `x\ud800y\udfffz\ufffe\uffff`],
  ])('counts %s exactly as they are serialised', (_name, unit) => {
    const text = unit.repeat(50);
    for (let limit = size('') + 1; limit <= size(text); limit += 7) {
      const cut = replyTextThatFits(reply(text), limit)!;
      expect(size(cut)).toBeLessThanOrEqual(limit);
      const splitsPair = /[\ud800-\udbff]$/.test(cut) && /^[\udc00-\udfff]/.test(text.slice(cut.length));
      expect(splitsPair).toBe(false);
      if (cut === text) continue;
      const next = [...text.slice(cut.length)][0]!;
      expect(size(cut + next)).toBeGreaterThan(limit); // the longest prefix that fits
    }
  });

  it('reports when not even an empty text fits', () => {
    expect(replyTextThatFits(reply('x'), size('') - 1)).toBeUndefined();
  });
});

describe('serializeReply', () => {
  it('escapes U+FFFE and U+FFFF, which SQS refuses, and stays JSON that parses back to the same reply', () => {
    const r = reply('a\ufffeb\uffffc');
    const serialized = serializeReply(r);
    expect(serialized).not.toMatch(/[\ufffe\uffff]/);
    expect(JSON.parse(serialized)).toEqual(r);
  });
});
