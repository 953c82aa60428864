/**
 * The names and error shapes of the client protocol, apart from the request schemas (client-requests.ts) so that a
 * browser bundle of the client SDK does not carry zod: this file, like client-events.ts and inbox.ts, imports nothing.
 */

/**
 * What clients may send: requests answered through a socket.io acknowledgement (`socket.emitWithAck(event, payload)`),
 * and the delivery acknowledgement, which expects no answer. Anything else a client sends is counted and ignored.
 */
export const ClientRequests = {
  /** A page of the user's inbox, newest first. */
  InboxList: 'inbox.list',
  /** Marks notifications read by id. */
  InboxRead: 'inbox.read',
  /** Marks everything up to a cursor (default: the latest) read, in O(1). */
  InboxReadAll: 'inbox.readAll',
  /** The device processed everything up to this cursor: the notifications up to it are delivered. No answer. */
  InboxAck: 'inbox.ack',
  /** A fresh token for the same user: moves the session's expiry without reconnecting. */
  SessionRefresh: 'session.refresh',
} as const;
export type ClientRequest = (typeof ClientRequests)[keyof typeof ClientRequests];

const CLIENT_REQUEST_NAMES: ReadonlySet<string> = new Set(Object.values(ClientRequests));
/** Called for every packet a client sends (acknowledgements included): a set lookup, no array built per call. */
export const isClientRequest = (event: unknown): event is ClientRequest => typeof event === 'string' && CLIENT_REQUEST_NAMES.has(event);

/** Why a request was refused: `error.code` of a failed reply. */
export const RequestErrorCodes = {
  /** The payload does not match the request's schema (see `message`). */
  InvalidRequest: 'invalid_request',
  /** A cursor this feed never issued, or one of an earlier incarnation of the feed. */
  StaleCursor: 'stale_cursor',
  /** The token is invalid, expired, or for another user (session.refresh). */
  InvalidToken: 'invalid_token',
  /** The client sends requests faster than allowed. */
  RateLimited: 'rate_limited',
  /** The inbox could not be read or written just now (Redis unreachable): retry. */
  Unavailable: 'unavailable',
} as const;
export type RequestErrorCode = (typeof RequestErrorCodes)[keyof typeof RequestErrorCodes];

export interface RequestError {
  error: { code: RequestErrorCode; message: string };
}
export type Reply<T> = T | RequestError;

export const isRequestError = (reply: unknown): reply is RequestError =>
  typeof reply === 'object' && reply !== null && 'error' in reply && typeof reply.error === 'object';
