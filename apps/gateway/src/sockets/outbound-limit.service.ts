import { Injectable } from '@nestjs/common';
import { ClientEvents, SessionEndReasons } from '@herald/contracts';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../ops/metrics.service.js';
import { closeNow, queuedBytes } from './socket-writer.js';
import type { NotificationSocket } from './socket.types.js';

/** How long a slow consumer's close frame may take before its connection is cut (what it holds is freed then). */
const CLOSE_GRACE_MS = 1000;
/** How often a replay that filled the socket's buffer looks again whether the client read some. */
const ROOM_POLL_MS = 25;
/** How long a replay waits for a client to read before it is ended as a slow consumer. */
const ROOM_TIMEOUT_MS = 10_000;

/**
 * The bound on what one socket may hold in memory: bytes queued for it and not yet taken by the kernel
 * (MAX_SOCKET_BUFFER_BYTES). A client that does not read what it is sent (a stuck app, a dead radio link that TCP has
 * not noticed) would otherwise make the instance hold every notification of its user until ping timeout, and a fast
 * user many megabytes a second. Beyond the bound its session ends with `session.ended { reason: "slow_consumer" }`;
 * the client reconnects by itself with its cursor and gets what it missed from the store (nothing is lost).
 *
 * Live writes are checked one by one. A replay writes a page at a time and, when the socket is full, waits for the
 * client to read (bounded by ROOM_TIMEOUT_MS) instead of ending it: a reconnecting client with a long backlog is not
 * slow, it is behind.
 */
@Injectable()
export class OutboundLimitService {
  private readonly limit: number;

  constructor(
    config: AppConfig,
    private readonly metrics: MetricsService,
    @InjectPinoLogger(OutboundLimitService.name) private readonly logger: PinoLogger,
  ) {
    this.limit = config.limits.maxSocketBufferBytes;
  }

  /** After a live write: ends the session (and returns true) if the socket holds more than the limit. */
  check(socket: NotificationSocket): boolean {
    const bytes = this.queued(socket);
    if (bytes <= this.limit) return false;
    this.end(socket, bytes);
    return true;
  }

  /**
   * Between replay pages: resolves true once the socket holds at most half the limit, false if it disconnected or did
   * not read enough within ROOM_TIMEOUT_MS (then it has been ended as a slow consumer).
   */
  async waitForRoom(socket: NotificationSocket): Promise<boolean> {
    const deadline = Date.now() + ROOM_TIMEOUT_MS;
    for (;;) {
      if (!socket.connected) return false;
      const bytes = this.queued(socket);
      if (bytes <= this.limit / 2) return true;
      if (Date.now() > deadline) {
        this.end(socket, bytes);
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, ROOM_POLL_MS));
    }
  }

  private queued(socket: NotificationSocket): number {
    const { bytes, measured } = queuedBytes(socket);
    if (!measured) this.metrics.socketQueueUnmeasured();
    return bytes;
  }

  private end(socket: NotificationSocket, bytes: number): void {
    this.metrics.sessionEnded(SessionEndReasons.SlowConsumer);
    this.logger.warn({ userId: socket.data.userId, socketId: socket.id, queuedBytes: bytes, limit: this.limit }, 'slow consumer: session ended');
    // Queued behind what the client has not read: a client that reads slowly still learns why; one that reads nothing
    // sees the connection drop. Either way it reconnects with its cursor.
    socket.emit(ClientEvents.SessionEnded, { reason: SessionEndReasons.SlowConsumer, reconnect: true });
    closeNow(socket, CLOSE_GRACE_MS);
  }
}
