import type { Pattern } from './patterns.js';

/**
 * Nest's Redis transport wire format: the message published on channel `pattern`.
 * Request/reply messages (presence.query) also carry an `id`; the reply comes back on `<pattern>.reply`.
 */
export interface WireMessage<T = unknown> {
  pattern: Pattern;
  data: T;
  id?: string;
}

export const encodeCommand = (pattern: Pattern, data: unknown): string => JSON.stringify({ pattern, data } satisfies WireMessage);

export const replyChannel = (pattern: Pattern): string => `${pattern}.reply`;
