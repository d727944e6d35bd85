// The Anthropic adapter's message mapping.
import { describe, expect, it } from 'vitest';
import { toAnthropicMessages } from '../../../functions/complete/providers/anthropic.ts';

describe('message mapping', () => {
  it('gives Anthropic no system field when there is no system message', () => {
    expect(toAnthropicMessages([{ role: 'user', content: 'x' }])).toEqual({
      messages: [{ role: 'user', content: 'x' }],
    });
  });
});
