import type { InboxUpdatedPayload, ReadState } from './client-requests.js';
import type { NotificationEnvelope } from './commands.schema.js';

/** Socket.IO namespace every client connects to. */
export const NOTIFICATIONS_NAMESPACE = '/notifications';

/** Events the server emits to clients. What clients may send is in client-requests.ts; rooms are chosen by the server. */
export const ClientEvents = {
  Notification: 'notification',
  /** The user's read state changed (a read on some device, or unread notifications trimmed): see InboxUpdatedPayload. */
  InboxUpdated: 'inbox.updated',
  /** Sent once per connection, after any replay and before any live notification: where the device now stands. */
  SessionReady: 'session.ready',
  /** Sent right before the server ends a session, so the client knows why. */
  SessionEnded: 'session.ended',
} as const;

/**
 * What a client sends as socket.io `auth`. socket.io-client takes `auth` as a function, called on every (re)connect,
 * so each reconnect sends the cursor of the last notification the device processed.
 */
export interface HandshakeAuth {
  token?: string;
  /** The `cursor` of the last user notification this device processed: everything after it is replayed first. */
  since?: string;
  /** The same for the broadcast feed (`notification` envelopes with `feed: "broadcast"`). */
  broadcastSince?: string;
}

/** Why a resume could not be complete. Notifications after `after` and before `before` may be missing. */
export const GapReasons = {
  /** `since` was not a cursor Herald issues. Nothing was replayed. */
  Malformed: 'malformed',
  /** `since` is from an earlier incarnation of the feed (it was lost, or expired while idle): the current one is replayed whole. */
  Epoch: 'epoch',
  /** Notifications after `since` are older than retention and were trimmed: what is retained is replayed. */
  Trimmed: 'trimmed',
} as const;
export type GapReason = (typeof GapReasons)[keyof typeof GapReasons];

export interface FeedGap {
  reason: GapReason;
  /** The cursor the client sent (null when it was malformed). */
  after: string | null;
  /** The first notification known not to be missing: the first one replayed after the gap, null when none was. */
  before: string | null;
}

/** Where a device stands in one feed once its (re)connect is complete. */
export interface FeedReady {
  /** The feed's latest cursor, null for an empty feed: a device that got nothing yet can still resume from it. */
  cursor: string | null;
  /** False when notifications after `since` may be missing (see `gap`); true when nothing was asked or nothing is missing. */
  recovered: boolean;
  /** How many notifications were replayed before this event. */
  replayed: number;
  gap?: FeedGap;
}

/** The user's feed, with its read state at `cursor`, and the broadcast feed (which has no read state). */
export interface SessionReadyPayload extends FeedReady, ReadState {
  broadcast: FeedReady;
}

/** The `connect_error` message for every refused handshake caused by the token. */
export const UNAUTHORIZED_MESSAGE = 'unauthorized';
/** The `connect_error` message while an instance is draining, full, or cannot count connections: try again later. */
export const UNAVAILABLE_MESSAGE = 'unavailable';
/** The `connect_error` message when a limit on the client's own use refused the handshake (too_many_connections). */
export const LIMITED_MESSAGE = 'limited';

/** `connect_error.data.reason` values. */
export const AuthFailureReasons = {
  MissingToken: 'missing_token',
  InvalidToken: 'invalid_token',
  ExpiredToken: 'expired_token',
} as const;
export type AuthFailureReason = (typeof AuthFailureReasons)[keyof typeof AuthFailureReasons];

export const ConnectRefusalReasons = {
  ...AuthFailureReasons,
  ShuttingDown: 'shutting_down',
  /** The user already has MAX_CONNECTIONS_PER_USER sockets open, over all instances: close one (or wait for it to expire). */
  TooManyConnections: 'too_many_connections',
  /** This instance holds MAX_CONNECTIONS_PER_INSTANCE sockets: the client retries (behind a balancer it lands elsewhere). */
  InstanceFull: 'instance_full',
  /** The per-user connection count could not be read from Redis: refused rather than uncounted; the client retries. */
  LimitUnavailable: 'limit_unavailable',
} as const;
export type ConnectRefusalReason = (typeof ConnectRefusalReasons)[keyof typeof ConnectRefusalReasons];

/** `session.ended` reasons. */
export const SessionEndReasons = {
  /** The token's `exp` passed: reconnect with a fresh token. */
  TokenExpired: 'token_expired',
  /** The instance is shutting down: the client reconnects on its own and lands on another instance. */
  ServerShutdown: 'server_shutdown',
  /**
   * The socket did not read what it was sent: more than MAX_SOCKET_BUFFER_BYTES were queued for it. The client
   * reconnects by itself with its cursor and gets what it missed from the store.
   */
  SlowConsumer: 'slow_consumer',
  /** The client sent more packets than allowed (CLIENT_PACKETS_PER_SECOND, CLIENT_PACKET_BURST): it may reconnect, and should send less. */
  PacketRateExceeded: 'packet_rate_exceeded',
} as const;
export type SessionEndReason = (typeof SessionEndReasons)[keyof typeof SessionEndReasons];

export interface SessionEndedPayload {
  reason: SessionEndReason;
  /** Whether the client should reconnect by itself (socket.io-client does, after a transport close). */
  reconnect: boolean;
}

export interface ConnectErrorData {
  reason: ConnectRefusalReason;
}

/** Events between gateway instances, carried by the Socket.IO Redis adapter. */
export const InterServerEventNames = {
  CountUserSockets: 'presence.count',
} as const;

/** The room every socket of a user joins. The only room a socket is ever in (besides its own id). */
export const userRoom = (userId: string): string => `user:${userId}`;

/** Typed Socket.IO event map, for `Server<...>` on the gateway and `Socket<...>` in clients (ClientToServerEvents: client-requests.ts). */
export interface ServerToClientEvents {
  [ClientEvents.Notification]: (envelope: NotificationEnvelope) => void;
  [ClientEvents.InboxUpdated]: (payload: InboxUpdatedPayload) => void;
  [ClientEvents.SessionReady]: (payload: SessionReadyPayload) => void;
  [ClientEvents.SessionEnded]: (payload: SessionEndedPayload) => void;
}
