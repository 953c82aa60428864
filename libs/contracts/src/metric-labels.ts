import { GapReasons } from './client-events.js';
import { ClientRequests } from './client-protocol.js';

/**
 * Closed sets of metric label values. A label value outside these sets would be an unbounded series,
 * so every raw value (a socket.io reason, an engine error code) is mapped onto one of them.
 */

/** Every Redis client an instance holds, by role: the `role` label of `herald_redis_connected`. */
export const RedisClientRoles = {
  /** Socket.IO Redis adapter, publishing (presence requests, inter-instance replies). */
  AdapterPub: 'adapter_pub',
  /** Socket.IO Redis adapter, subscribed to the other instances. */
  AdapterSub: 'adapter_sub',
  /** Subscribed to the route channels of the users with a socket here, and to the broadcast feed: nothing is delivered while it is down. */
  RouteSub: 'route_sub',
  /** Stores notifications and reads them for replays: nothing is stored or replayed while it is down. */
  Store: 'store',
  /** Reads the command stream (blocking XREADGROUP): commands wait in the stream while it is down. */
  Ingest: 'ingest',
  /** Acknowledges, reclaims and dead-letters commands, and answers requests (presence.query). */
  TransportPub: 'transport_pub',
  /** Subscribed to the pub/sub command channels (notify.*, presence.query): those commands are lost while it is down. */
  TransportSub: 'transport_sub',
} as const;
export type RedisClientRoleLabel = (typeof RedisClientRoles)[keyof typeof RedisClientRoles];

/** Why a socket disconnected: socket.io's `DisconnectReason` in snake_case, plus `other` for anything a newer socket.io adds. */
export const DisconnectReasonLabels = {
  TransportError: 'transport_error',
  TransportClose: 'transport_close',
  ForcedClose: 'forced_close',
  PingTimeout: 'ping_timeout',
  ParseError: 'parse_error',
  ServerShuttingDown: 'server_shutting_down',
  ForcedServerClose: 'forced_server_close',
  ClientNamespaceDisconnect: 'client_namespace_disconnect',
  ServerNamespaceDisconnect: 'server_namespace_disconnect',
  Other: 'other',
} as const;
export type DisconnectReasonLabel = (typeof DisconnectReasonLabels)[keyof typeof DisconnectReasonLabels];

/** What clients send, by request (ClientRequests); any other event is `unexpected`. */
export const ClientMessageLabels = {
  ...ClientRequests,
  Unexpected: 'unexpected',
} as const;
export type ClientMessageLabel = (typeof ClientMessageLabels)[keyof typeof ClientMessageLabels];

/** Client-side failures: engine.io `connection_error` codes (handshake-level, before any socket exists) and socket errors. */
export const ClientErrorKinds = {
  TransportUnknown: 'transport_unknown',
  SessionIdUnknown: 'session_id_unknown',
  BadHandshakeMethod: 'bad_handshake_method',
  BadRequest: 'bad_request',
  Forbidden: 'forbidden',
  UnsupportedProtocolVersion: 'unsupported_protocol_version',
  /** A client sent a packet over MAX_CLIENT_PACKET_BYTES on a WebSocket: its connection was closed. */
  PacketTooLarge: 'packet_too_large',
  /** An `error` event on an established socket (broken transport, bad packet). */
  SocketError: 'socket_error',
  Other: 'other',
} as const;
export type ClientErrorKind = (typeof ClientErrorKinds)[keyof typeof ClientErrorKinds];

/** How a notification was written to a socket: the `path` label of `herald_socket_writes_total`. */
export const SocketWritePaths = {
  /** One pre-built WebSocket frame, written straight to the socket (sockets/socket-writer.ts). */
  Frame: 'frame',
  /** engine.io's own path, because the socket needs it: long-polling, an upgrade under way, packets queued, deflate. */
  Engine: 'engine',
  /** engine.io's path because the WebSocket internals the fast path uses were not found: the ws library changed. */
  Fallback: 'fallback',
} as const;
export type SocketWritePath = (typeof SocketWritePaths)[keyof typeof SocketWritePaths];

/** What the resume of a user's feed did: the `outcome` label of `herald_resumes_total`. */
export const ResumeOutcomes = {
  /** No cursor, or nothing after it. */
  None: 'none',
  /** Notifications were replayed and nothing is missing. */
  Replayed: 'replayed',
  ...GapReasons,
} as const;
export type ResumeOutcome = (typeof ResumeOutcomes)[keyof typeof ResumeOutcomes];

/** The `pattern` label of a dead-lettered stream entry whose pattern is not one of Herald's. */
export const UNKNOWN_PATTERN_LABEL = 'unknown';

/** Why a route canary probe failed: the `reason` label of `herald_route_canary_failures_total`. */
export const CanaryFailureReasons = {
  /** Published (a subscriber was there) but not back within ROUTE_CANARY_TIMEOUT_MS: the route subscriber may be deaf. */
  Timeout: 'timeout',
  /** Redis answered SPUBLISH with 0 receivers: the instance's own subscription is gone on the server. */
  NoSubscriber: 'no_subscriber',
  /** SPUBLISH itself failed (Redis unreachable): counts against readiness, not against the subscriber. */
  PublishError: 'publish_error',
} as const;
export type CanaryFailureReason = (typeof CanaryFailureReasons)[keyof typeof CanaryFailureReasons];
/** What a `session.refresh` did: the `outcome` label of `herald_session_refreshes_total`. */
export const SessionRefreshOutcomes = {
  /** The session now ends at the new token's `exp`. */
  Refreshed: 'refreshed',
  /** Not a token a key here verifies (signature, algorithm, claims). */
  InvalidToken: 'invalid_token',
  /** The token's `exp` has passed. */
  ExpiredToken: 'expired_token',
  /** A valid token, for another `sub` than the session's. */
  OtherUser: 'other_user',
  /** The socket disconnected while the token was being verified: nothing to move. */
  Closed: 'closed',
} as const;
export type SessionRefreshOutcome = (typeof SessionRefreshOutcomes)[keyof typeof SessionRefreshOutcomes];
