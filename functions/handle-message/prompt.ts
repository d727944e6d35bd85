// The agent's system prompt and the messages sent to `complete`.
import type { ChatMessage } from '../complete/request.ts';

export const DEFAULT_PERSONA = 'Professional and warm.';
export const AI_HONESTY = 'If asked directly whether you are an AI, always respond honestly that you are an AI assistant.';

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
export function buildMessages(systemPrompt: string, userMessage: string, history: readonly HistoryTurn[]): ChatMessage[] {
  return [
    { role: 'system', content: systemPrompt },
    ...history.map((turn) => ({ role: turn.role, content: turn.content })),
    { role: 'user', content: userMessage },
  ];
}
