// The agent's system prompt and the messages sent to `complete`.
import type { ChatMessage } from '../common/complete-contract.ts';

export const DEFAULT_PERSONA = 'Professional and warm.';
export const AI_HONESTY =
  'If asked directly whether you are an AI, always respond honestly that you are an AI assistant.';

export interface AgentPersona {
  name: string;
  role: string;
  persona: string | null;
  system_prompt: string | null;
}

export interface HistoryTurn {
  role: 'user' | 'assistant';
  content: string;
}

/** `system_prompt` (if set), name and role, persona, and the AI-honesty rule, joined by blank lines. */
export function buildSystemPrompt(agent: AgentPersona): string {
  return [
    agent.system_prompt?.trim() || undefined,
    `Your name is ${agent.name}. Your role is ${agent.role}.`,
    `Persona: ${agent.persona?.trim() || DEFAULT_PERSONA}`,
    AI_HONESTY,
  ]
    .filter((part): part is string => part !== undefined)
    .join('\n\n');
}

/** System prompt, then the history (oldest first), then the new user message. */
export function buildMessages(
  systemPrompt: string,
  userMessage: string,
  history: readonly HistoryTurn[],
): ChatMessage[] {
  return [
    { role: 'system', content: systemPrompt },
    ...history.map((turn) => ({ role: turn.role, content: turn.content })),
    { role: 'user', content: userMessage },
  ];
}

/**
 * The history without its oldest whole exchanges (a user turn and the replies after it) until what is
 * left adds at most `budgetBytes` to the serialized `complete` body, so that long turns age out of a
 * conversation instead of making every later request too large. Empty when nothing fits.
 */
export function trimHistory(history: readonly HistoryTurn[], budgetBytes: number): HistoryTurn[] {
  // In the messages array each turn adds its JSON and one comma.
  const cost = history.map((turn) => Buffer.byteLength(JSON.stringify({ role: turn.role, content: turn.content })) + 1);
  let total = cost.reduce((sum, bytes) => sum + bytes, 0);
  let start = 0;
  while (total > budgetBytes && start < history.length) {
    do total -= cost[start++]!;
    while (start < history.length && history[start]!.role === 'assistant');
  }
  return history.slice(start);
}
