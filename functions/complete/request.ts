// The chat message type as the router and the providers name it; its home is the shared complete contract.
export type { ChatMessage } from '../common/complete-contract.ts';
