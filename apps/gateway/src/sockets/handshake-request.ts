import { ServerResponse, type IncomingMessage } from 'node:http';

/*
 * engine.io keeps the HTTP request of a session's handshake for the session's whole life: as `conn.request`, and,
 * for a WebSocket, through the stand-in response it builds for the upgrade (a `close` listener on the TCP socket
 * holds that response, the response holds the request). V8 keeps that request's ~40 fields in dictionary mode
 * (engine.io deletes one), so with its raw header list and stream state it costs ~2 KB per idle connection, and
 * nobody reads it once the socket has connected: `socket.handshake` keeps what socket.io's API offers from it
 * (headers, query, url, address).
 */

/**
 * An engine.io middleware (`engine.use`); it must be the last one. The upgrade's stand-in response needs the request
 * only for middlewares to set headers on; after them, engine.io and ws read the request itself.
 */
export function releaseUpgradeRequest(_req: IncomingMessage, res: ServerResponse, next: () => void): void {
  if (!(res instanceof ServerResponse)) (res as { req?: unknown }).req = undefined;
  next();
}

/**
 * Drops engine.io's reference to a connected socket's handshake request. `socket.request` is undefined afterwards;
 * socket.io allows that (it builds the handshake of a later namespace without one), and Herald reads it only before.
 */
export function releaseHandshakeRequest(conn: object): void {
  (conn as { request?: IncomingMessage }).request = undefined;
}
