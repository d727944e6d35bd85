// The Ollama adapter's answer mapping: thinking is never returned.
import { describe, expect, it } from 'vitest';
import { stripThinking } from '../../../functions/complete/providers/ollama.ts';

describe('thinking', () => {
  it('strips only a leading think block', () => {
    expect(stripThinking('  <think>a\nb</think>\n ok ')).toBe('ok');
    expect(stripThinking('<think></think>')).toBe('');
    expect(stripThinking('plain')).toBe('plain');
  });
});
