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

export const encodeCommand = <T>(pattern: Pattern, data: T): string => JSON.stringify({ pattern, data } satisfies WireMessage<T>);

export const replyChannel = (pattern: Pattern): string => `${pattern}.reply`;
