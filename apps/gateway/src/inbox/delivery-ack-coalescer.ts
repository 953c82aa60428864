import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { ClientRequests, RequestErrorCodes, userFeedKeys, type FeedPosition } from '@herald/contracts';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AppConfig } from '../config/app-config.js';
import { MetricsService } from '../ops/metrics.service.js';
import { InboxState, type AckResult } from './inbox-store.js';

interface PendingAck {
  /** The highest acknowledged position of the window (one epoch per window), and when it arrived (Date.now()). */
  position: FeedPosition;
  receivedAt: number;
  /** The lower sequence numbers acknowledged in the window: written on their own only if the highest is refused. */
  lower: number[];
}

/**
 * Delivery acknowledgements of one user, gathered for INBOX_ACK_COALESCE_MS and written to Redis as one: the highest
 * cursor. Each device acknowledges at most once a second (the SDK's default), a user's devices each on their own, and only the highest
 * cursor moves the delivered mark, so the rest were Redis calls for nothing (performance.md, phase 7). The window of
 * a user starts with its first acknowledgement, so the writes of different users stay spread out.
 *
 * An acknowledgement has no reply, so nothing waits for it: what is kept per user is its highest position and the
 * lower sequence numbers (no promise per acknowledgement, which would live through the window and cost the young
 * generation's collections). Outcomes are counted here, as the client request dispatcher counts other refusals: the
 * highest one's; when it is refused as stale, each lower one is written on its own, so a bad cursor cannot hide a good
 * one. A cursor of another epoch than the window's is written at once. The delivered time recorded is when the
 * highest acknowledgement arrived, not when it was written. A draining gateway writes what it holds first.
 */
@Injectable()
export class DeliveryAckCoalescer implements BeforeApplicationShutdown {
  private readonly pending = new Map<string, PendingAck>();
  private readonly windowMs: number;
  private closing = false;

  constructor(
    private readonly inbox: InboxState,
    private readonly metrics: MetricsService,
    @InjectPinoLogger(DeliveryAckCoalescer.name) private readonly logger: PinoLogger,
    config: AppConfig,
  ) {
    this.windowMs = config.inbox.ackCoalesceMs;
  }

  /** `userId` processed everything up to `position`. Never throws; the outcome is counted when it is written. */
  add(userId: string, position: FeedPosition): void {
    const entry = this.pending.get(userId);
    if (this.windowMs === 0 || this.closing || (entry !== undefined && entry.position.epoch !== position.epoch)) {
      void this.write(userId, position, 0, []);
      return;
    }
    if (entry === undefined) {
      this.pending.set(userId, { position, receivedAt: Date.now(), lower: [] });
      setTimeout(() => void this.flush(userId), this.windowMs).unref();
    } else if (position.seq > entry.position.seq) {
      entry.lower.push(entry.position.seq);
      entry.position = position;
      entry.receivedAt = Date.now();
    } else {
      entry.lower.push(position.seq);
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.pending.keys()].map((userId) => this.flush(userId)));
  }

  private async flush(userId: string): Promise<void> {
    const entry = this.pending.get(userId);
    if (entry === undefined) return;
    this.pending.delete(userId);
    await this.write(userId, entry.position, Date.now() - entry.receivedAt, entry.lower);
  }

  private async write(userId: string, position: FeedPosition, heldMs: number, lower: readonly number[]): Promise<void> {
    let result: AckResult;
    try {
      // Delivered when the acknowledgement arrived, not when it was written: the status and the ack latency stay true.
      result = await this.inbox.acknowledge(userFeedKeys(userId), position, heldMs);
    } catch (error) {
      // The store could not be reached: the client's next acknowledgement (a higher cursor) covers these.
      this.logger.warn({ userId, acknowledgements: 1 + lower.length, error: String(error) }, 'writing delivery acknowledgements failed');
      for (let count = 0; count <= lower.length; count++) this.metrics.clientRequestRefused(ClientRequests.InboxAck, RequestErrorCodes.Unavailable);
      return;
    }
    if (result.outcome === 'advanced') this.metrics.deliveryAcknowledged(result.ageMs);
    if (result.outcome !== 'stale') return;
    this.metrics.clientRequestRefused(ClientRequests.InboxAck, RequestErrorCodes.StaleCursor);
    this.logger.info({ userId, request: ClientRequests.InboxAck, code: RequestErrorCodes.StaleCursor, cursor: position }, 'client request refused');
    await Promise.all(lower.map((seq) => this.write(userId, { epoch: position.epoch, seq }, heldMs, [])));
  }
}
