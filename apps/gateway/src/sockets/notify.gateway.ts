import type { BeforeApplicationShutdown } from '@nestjs/common';
import type { OnGatewayConnection, OnGatewayInit } from '@nestjs/websockets';
import { WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import { ClientErrorKinds, ClientEvents, InterServerEventNames, NOTIFICATIONS_NAMESPACE, SessionEndReasons, userRoom, type SessionEndReason } from '@herald/contracts';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { ClientAddressService } from '../edge/client-address.service.js';
import { ConnectionAuthService } from '../auth/connection-auth.service.js';
import { DrainState } from '../ops/drain-state.service.js';
import { MetricsService } from '../ops/metrics.service.js';
import { ClientRequestDispatcher } from './client-request.dispatcher.js';
import { FeedDeliveryService } from './feed-delivery.service.js';
import { releaseHandshakeRequest, releaseUpgradeRequest } from './handshake-request.js';
import { isOversizedPacket } from './oversized-packet.js';
import { UserConnectionsService } from './user-connections.service.js';
import { SessionExpiryService } from './session-expiry.service.js';
import type { NotificationNamespace, NotificationSocket } from './socket.types.js';

/**
 * Connection lifecycle: handshake, resume (FeedDeliveryService), token expiry, disconnect, drain. What a socket receives
 * is decided by FeedDeliveryService alone: the routes of its user and the broadcast feed (docs/architecture.md).
 */
@WebSocketGateway({ namespace: NOTIFICATIONS_NAMESPACE })
export class NotifyGateway implements OnGatewayInit<NotificationNamespace>, OnGatewayConnection, BeforeApplicationShutdown {
  @WebSocketServer()
  private readonly server!: NotificationNamespace;

  constructor(
    private readonly auth: ConnectionAuthService,
    private readonly metrics: MetricsService,
    @InjectPinoLogger(NotifyGateway.name) private readonly logger: PinoLogger,
    private readonly clientAddress: ClientAddressService,
    private readonly feeds: FeedDeliveryService,
    private readonly drain: DrainState,
    private readonly requests: ClientRequestDispatcher,
    private readonly expiries: SessionExpiryService,
    private readonly connections: UserConnectionsService,
  ) {
    expiries.whenExpired((socket) => this.endSession(socket, SessionEndReasons.TokenExpired));
  }
  /** Resolves once the broadcast route is subscribed: main.ts waits for it before listening. */
  ready: Promise<void> = Promise.resolve();

  afterInit(server: NotificationNamespace): void {
    this.ready = this.feeds.bind(server);
    server.use(this.auth.middleware);
    server.on(InterServerEventNames.CountUserSockets, (userId, ack) => ack(this.countLocal([userRoom(userId)])));
    this.metrics.countConnectedSocketsWith(() => server.sockets.size);
    this.connections.renewFrom(() => server.sockets.values());
    // Handshake-level failures happen before any socket exists; the engine is the only place that sees them.
    server.server.engine.on('connection_error', (error: { code?: unknown }) => this.metrics.engineConnectionError(error.code));
    server.server.engine.use(releaseUpgradeRequest);
  }

  handleConnection(socket: NotificationSocket): void {
    const { userId } = socket.data;
    void socket.join(userRoom(userId));
    this.expiries.schedule(socket);
    this.metrics.connectionAccepted();
    // Listeners shared by all sockets: each idle connection holds its listeners for its lifetime. One catch-all for
    // every client request (ClientRequestDispatcher), where a listener per event would cost an entry per event.
    socket.on('disconnect', this.onDisconnect);
    socket.onAny(this.onClientEvent);
    const { since, broadcastSince } = socket.handshake.auth as Record<string, unknown>;
    // The token has been verified; a session should not hold a bearer token (nor its bytes) for hours.
    socket.handshake.auth = {};
    this.feeds.attach(socket, { since, broadcastSince }).catch((error: unknown) => {
      // The store could not be read: the client retries (a transport close), on this instance or another.
      this.logger.warn({ userId, socketId: socket.id, error: String(error) }, 'resume failed: closing the transport');
      socket.conn.close();
    });
    this.logger.debug(
      { userId, socketId: socket.id, address: this.clientAddress.of(socket.request), peer: socket.handshake.address, transport: socket.conn.transport.name },
      'connected',
    );
    releaseHandshakeRequest(socket.conn);
  }

  /**
   * Not Nest's OnGatewayDisconnect, which builds a closure per socket to call handleDisconnect (main.ts turns that
   * hook off, and the method is named otherwise so Nest never calls it twice): one listener for all sockets, which
   * EventEmitter calls with the socket as `this`.
   */
  private readonly onDisconnect = ((gateway: NotifyGateway) =>
    function (this: NotificationSocket, reason: string, description: unknown): void {
      gateway.disconnected(this, reason, description);
    })(this);

  private readonly onClientEvent = ((gateway: NotifyGateway) =>
    function (this: NotificationSocket, ...args: unknown[]): void {
      gateway.requests.dispatch(this, args);
    })(this);

  private disconnected(socket: NotificationSocket, reason: string, description: unknown): void {
    this.metrics.disconnected(reason);
    // A refusal like the others (MAX_CLIENT_PACKET_BYTES), counted under its own kind.
    if (isOversizedPacket(reason, description)) this.metrics.clientError(ClientErrorKinds.PacketTooLarge);
    this.expiries.cancel(socket);
    this.feeds.detach(socket);
    this.connections.release(socket);
  }

  /** Sockets of this user on every instance: each other instance answers with its local count through the Redis adapter. */
  async countUserConnections(userId: string): Promise<number> {
    const remote = await this.server.serverSideEmitWithAck(InterServerEventNames.CountUserSockets, userId);
    return remote.reduce((sum, count) => sum + count, this.countLocal([userRoom(userId)]));
  }

  /** Drain: refuse new handshakes, then close every local session so its client reconnects elsewhere. */
  beforeApplicationShutdown(): void {
    this.drain.stopAccepting();
    const count = this.server.sockets.size;
    for (const socket of this.server.sockets.values()) this.endSession(socket, SessionEndReasons.ServerShutdown);
    this.logger.info({ sockets: count }, 'draining: sessions closed');
  }

  private countLocal(rooms: readonly string[]): number {
    const adapterRooms = this.server.adapter.rooms;
    let total = 0;
    for (const room of rooms) total += adapterRooms.get(room)?.size ?? 0;
    return total;
  }

  /**
   * Tells the client why, then ends the session. A token expiry is a server disconnect (socket.io-client does not
   * retry: it needs a new token); a shutdown only closes the transport, which socket.io-client retries at once.
   */
  private endSession(socket: NotificationSocket, reason: SessionEndReason): void {
    const reconnect = reason === SessionEndReasons.ServerShutdown;
    socket.emit(ClientEvents.SessionEnded, { reason, reconnect });
    this.metrics.sessionEnded(reason);
    this.logger.info({ userId: socket.data.userId, socketId: socket.id, reason }, 'session ended');
    if (reconnect) socket.conn.close();
    else socket.disconnect(true);
  }
}
