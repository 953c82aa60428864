/** Socket.IO namespace every client connects to. */
export const NOTIFICATIONS_NAMESPACE = '/notifications';

/** Events the server emits to clients. There are no client-to-server events: rooms are chosen by the server. */
export const ClientEvents = {
  Notification: 'notification',
  /** Sent right before the server ends a session, so the client knows why. */
  SessionEnded: 'session.ended',
} as const;

/** The `connect_error` message for every refused handshake caused by the token. */
export const UNAUTHORIZED_MESSAGE = 'unauthorized';
/** The `connect_error` message while an instance is draining. */
export const UNAVAILABLE_MESSAGE = 'unavailable';

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
} as const;
export type ConnectRefusalReason = (typeof ConnectRefusalReasons)[keyof typeof ConnectRefusalReasons];

/** `session.ended` reasons. */
export const SessionEndReasons = {
  /** The token's `exp` passed: reconnect with a fresh token. */
  TokenExpired: 'token_expired',
  /** The instance is shutting down: the client reconnects on its own and lands on another instance. */
  ServerShutdown: 'server_shutdown',
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

/** Typed Socket.IO event maps, for `Server<...>` on the gateway and `Socket<...>` in clients. */
export interface ServerToClientEvents {
  [ClientEvents.Notification]: (envelope: import('./commands.schema.js').NotificationEnvelope) => void;
  [ClientEvents.SessionEnded]: (payload: SessionEndedPayload) => void;
}
/** Clients send nothing: no event can join a room or otherwise change what a socket receives. */
export type ClientToServerEvents = Record<string, never>;
