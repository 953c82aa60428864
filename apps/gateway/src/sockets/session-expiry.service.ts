import { Injectable } from '@nestjs/common';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { ExpiryScheduler } from './expiry-scheduler.js';
import type { NotificationSocket } from './socket.types.js';

/**
 * When each session's token expires. NotifyGateway schedules a socket at connect, cancels it at disconnect and says
 * what expiry does (whenExpired); SessionRefreshService moves a session's expiry (extend).
 */
@Injectable()
export class SessionExpiryService {
  private expired: (socket: NotificationSocket) => void = () => undefined;
  private readonly scheduler = new ExpiryScheduler<NotificationSocket>(
    (socket) => socket.data.tokenExp * 1000,
    (socket) => this.expired(socket),
    (error, socket) => this.logger.error({ socketId: socket.id, error: String(error) }, 'ending an expired session failed'),
  );

  constructor(@InjectPinoLogger(SessionExpiryService.name) private readonly logger: PinoLogger) {}

  /** Sessions waiting for their token to expire. */
  get size(): number {
    return this.scheduler.size;
  }

  whenExpired(handler: (socket: NotificationSocket) => void): void {
    this.expired = handler;
  }

  schedule(socket: NotificationSocket): void {
    this.scheduler.schedule(socket);
  }

  cancel(socket: NotificationSocket): void {
    this.scheduler.cancel(socket);
  }

  /** The session now ends at `exp` (epoch seconds): taken out of its old bucket first, which is found by the old exp. */
  extend(socket: NotificationSocket, exp: number): void {
    this.scheduler.cancel(socket);
    socket.data.tokenExp = exp;
    this.scheduler.schedule(socket);
  }
}
