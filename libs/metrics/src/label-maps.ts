import { ClientErrorKinds, DisconnectReasonLabels, type ClientErrorKind, type DisconnectReasonLabel } from '@herald/contracts';
import type { DisconnectReason } from 'socket.io';

// `satisfies` makes the build fail when socket.io adds a reason we do not map.
const DISCONNECT_REASONS = {
  'transport error': DisconnectReasonLabels.TransportError,
  'transport close': DisconnectReasonLabels.TransportClose,
  'forced close': DisconnectReasonLabels.ForcedClose,
  'ping timeout': DisconnectReasonLabels.PingTimeout,
  'parse error': DisconnectReasonLabels.ParseError,
  'server shutting down': DisconnectReasonLabels.ServerShuttingDown,
  'forced server close': DisconnectReasonLabels.ForcedServerClose,
  'client namespace disconnect': DisconnectReasonLabels.ClientNamespaceDisconnect,
  'server namespace disconnect': DisconnectReasonLabels.ServerNamespaceDisconnect,
} as const satisfies Record<DisconnectReason, DisconnectReasonLabel>;

const disconnectReasons = new Map<string, DisconnectReasonLabel>(Object.entries(DISCONNECT_REASONS));

/** socket.io's disconnect reason as a label value; anything unknown (or missing) is `other`. */
export function disconnectReasonLabel(reason: string | undefined): DisconnectReasonLabel {
  return (reason === undefined ? undefined : disconnectReasons.get(reason)) ?? DisconnectReasonLabels.Other;
}

/** engine.io `Server.errors` codes 0..5, in order (stable since engine.io 3). */
const ENGINE_ERROR_KINDS: readonly ClientErrorKind[] = [
  ClientErrorKinds.TransportUnknown,
  ClientErrorKinds.SessionIdUnknown,
  ClientErrorKinds.BadHandshakeMethod,
  ClientErrorKinds.BadRequest,
  ClientErrorKinds.Forbidden,
  ClientErrorKinds.UnsupportedProtocolVersion,
];

/** An engine.io `connection_error` code as a label value; an unknown code is `other`. */
export function engineErrorKind(code: unknown): ClientErrorKind {
  return (typeof code === 'number' ? ENGINE_ERROR_KINDS[code] : undefined) ?? ClientErrorKinds.Other;
}
