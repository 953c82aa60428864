import type { BeforeApplicationShutdown } from '@nestjs/common';
import type { OnGatewayConnection, OnGatewayDisconnect, OnGatewayInit } from '@nestjs/websockets';
import { WebSocketGateway, WebSocketServer } from '@nestjs/websockets';
import {
  ClientErrorKinds,
  ClientEvents,
  InterServerEventNames,
  NOTIFICATIONS_NAMESPACE,
  SessionEndReasons,
  userRoom,
  type NotificationEnvelope,
  type SessionEndReason,
} from '@herald/contracts';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { ClientAddressService } from '../edge/client-address.service.js';
import { ConnectionAuthService } from '../auth/connection-auth.service.js';
import { MetricsService } from '../metrics/metrics.service.js';
import type { NotificationNamespace, NotificationSocket } from './socket.types.js';

// setTimeout fires at once for delays above 2^31-1 ms; longer tokens are re-armed when this much has passed.
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Connection lifecycle and typed sends. Every send uses `.local`: each instance receives every command
 * from the Redis transport and delivers only to its own sockets, so a socket gets each notification once
 * however many instances run (docs/architecture.md).
 */
@WebSocketGateway({ namespace: NOTIFICATIONS_NAMESPACE })
export class NotifyGateway implements OnGatewayInit<NotificationNamespace>, OnGatewayConnection, OnGatewayDisconnect, BeforeApplicationShutdown {
  @WebSocketServer()
  private readonly server!: NotificationNamespace;

  constructor(
    private readonly auth: ConnectionAuthService,
    private readonly metrics: MetricsService,
    @InjectPinoLogger(NotifyGateway.name) private readonly logger: PinoLogger,
    private readonly clientAddress: ClientAddressService,
  ) {}

  private readonly expiryTimers = new Map<string, NodeJS.Timeout>();

  afterInit(server: NotificationNamespace): void {
    server.use(this.auth.middleware);
    server.on(InterServerEventNames.CountUserSockets, (userId, ack) => ack(this.countLocal([userRoom(userId)])));
    this.metrics.countConnectedSocketsWith(() => server.sockets.size);
    // Handshake-level failures happen before any socket exists; the engine is the only place that sees them.
    server.server.engine.on('connection_error', (error: { code?: unknown }) => this.metrics.engineConnectionError(error.code));
  }

  handleConnection(socket: NotificationSocket): void {
    const { userId } = socket.data;
    void socket.join(userRoom(userId));
    this.armExpiry(socket);
    this.metrics.connectionAccepted();
    // Clients send no events by design: count whatever arrives, under one bounded label.
    socket.onAny(() => this.metrics.clientMessage());
    // A client can also send an event named "error" (already counted above); only the transport's own errors are Error objects.
    socket.on('error', (error: unknown) => {
      if (error instanceof Error) this.metrics.clientError(ClientErrorKinds.SocketError);
    });
    this.logger.debug(
      { userId, socketId: socket.id, address: this.clientAddress.of(socket.request), peer: socket.handshake.address, transport: socket.conn.transport.name },
      'connected',
    );
  }

  handleDisconnect(socket: NotificationSocket, reason?: string): void {
    this.metrics.disconnected(reason);
    clearTimeout(this.expiryTimers.get(socket.id));
    this.expiryTimers.delete(socket.id);
  }

  /** Emits to this instance's sockets of these users; returns how many sockets it reached. */
  sendToUsers(userIds: readonly string[], envelope: NotificationEnvelope): number {
    const rooms = userIds.map(userRoom);
    const reached = this.countLocal(rooms);
    if (reached > 0) this.server.local.to(rooms).emit(ClientEvents.Notification, envelope);
    return reached;
  }

  /** Emits to every socket of this instance; returns how many it reached. */
  broadcast(envelope: NotificationEnvelope): number {
    const reached = this.server.sockets.size;
    if (reached > 0) this.server.local.emit(ClientEvents.Notification, envelope);
    return reached;
  }

  /** Sockets of this user on every instance: each other instance answers with its local count through the Redis adapter. */
  async countUserConnections(userId: string): Promise<number> {
    const remote = await this.server.serverSideEmitWithAck(InterServerEventNames.CountUserSockets, userId);
    return remote.reduce((sum, count) => sum + count, this.countLocal([userRoom(userId)]));
  }

  get localConnections(): number {
    return this.server.sockets.size;
  }

  /** Drain: refuse new handshakes, then close every local session so its client reconnects elsewhere. */
  beforeApplicationShutdown(): void {
    this.auth.stopAccepting();
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

  private armExpiry(socket: NotificationSocket): void {
    const remaining = socket.data.expiresAt - Date.now();
    this.expiryTimers.set(
      socket.id,
      setTimeout(
      () => (remaining > MAX_TIMER_MS ? this.armExpiry(socket) : this.endSession(socket, SessionEndReasons.TokenExpired)),
        Math.max(0, Math.min(remaining, MAX_TIMER_MS)),
      ),
    );
  }

  /**
   * Tells the client why, then ends the session. A token expiry is a server disconnect (socket.io-client does not
   * retry: it needs a new token); a shutdown only closes the transport, which socket.io-client retries at once.
   */
  private endSession(socket: NotificationSocket, reason: SessionEndReason): void {
    const reconnect = reason === SessionEndReasons.ServerShutdown;
    socket.emit(ClientEvents.SessionEnded, { reason, reconnect });
    this.logger.info({ userId: socket.data.userId, socketId: socket.id, reason }, 'session ended');
    if (reconnect) socket.conn.close();
    else socket.disconnect(true);
  }
}
