import { Injectable, type BeforeApplicationShutdown } from '@nestjs/common';
import { userFeedKeys, type FeedPosition } from '@herald/contracts';
import { AppConfig } from '../config/app-config.js';
import { InboxState, type AckResult } from './inbox-store.js';

interface Waiter {
  seq: number;
  resolve: (result: AckResult) => void;
  reject: (error: unknown) => void;
}

interface PendingAck {
  userId: string;
  /** The highest acknowledged position of the window (one epoch per window), and when it arrived (Date.now()). */
  position: FeedPosition;
  receivedAt: number;
  waiters: Waiter[];
}

/**
 * Delivery acknowledgements of one user, gathered for INBOX_ACK_COALESCE_MS and written to Redis as one: the highest
 * cursor. Each device acknowledges at most every 250 ms, a user's devices each on their own, and only the highest
 * cursor moves the delivered mark, so the rest were Redis calls for nothing (issue 13: acks cost a third of a
 * gateway's CPU at saturation before). The window of a user starts with its first acknowledgement, so the writes of
 * different users stay spread out instead of arriving at Redis together.
 *
 * Each acknowledgement still gets its own outcome: the one carrying the highest cursor gets the write's; lower ones of
 * the same feed, superseded, `unchanged`; when the highest was refused (stale), the lower ones are written on their
 * own, so a bad cursor cannot hide a good one. A cursor of another epoch than the window's is written at once. The
 * delivered time recorded is when the highest acknowledgement arrived, not when it was written.
 */
@Injectable()
export class DeliveryAckCoalescer implements BeforeApplicationShutdown {
  private readonly pending = new Map<string, PendingAck>();
  private readonly windowMs: number;
  private closing = false;

  constructor(
    private readonly inbox: InboxState,
    config: AppConfig,
  ) {
    this.windowMs = config.inbox.ackCoalesceMs;
  }

  /** An acknowledgement of `userId`'s feed; its keys are built only when it is written (one in several). */
  acknowledge(userId: string, position: FeedPosition): Promise<AckResult> {
    const entry = this.pending.get(userId);
    if (this.windowMs === 0 || this.closing || (entry !== undefined && entry.position.epoch !== position.epoch))
      return this.inbox.acknowledge(userFeedKeys(userId), position);
    return new Promise<AckResult>((resolve, reject) => {
      const waiter = { seq: position.seq, resolve, reject };
      if (entry === undefined) {
        this.pending.set(userId, { userId, position, receivedAt: Date.now(), waiters: [waiter] });
        setTimeout(() => void this.write(userId), this.windowMs).unref();
        return;
      }
      if (position.seq > entry.position.seq) {
        entry.position = position;
        entry.receivedAt = Date.now();
      }
      entry.waiters.push(waiter);
    });
  }

  /** Draining: what is gathered is written now, and later acknowledgements go straight to Redis. */
  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    await Promise.all([...this.pending.keys()].map((key) => this.write(key)));
  }

  private async write(key: string): Promise<void> {
    const entry = this.pending.get(key);
    if (entry === undefined) return;
    this.pending.delete(key);
    const { userId, position, receivedAt, waiters } = entry;
    const feed = userFeedKeys(userId);
    let result: AckResult;
    try {
      // Delivered when the acknowledgement arrived, not when it was written: the status and the ack latency stay true.
      result = await this.inbox.acknowledge(feed, position, Date.now() - receivedAt);
    } catch (error) {
      for (const waiter of waiters) waiter.reject(error);
      return;
    }
    let answered = false;
    for (const waiter of waiters) {
      if (waiter.seq === position.seq && !answered) {
        answered = true;
        waiter.resolve(result);
      } else if (result.outcome === 'stale' && waiter.seq !== position.seq) {
        this.inbox.acknowledge(feed, { epoch: position.epoch, seq: waiter.seq }).then(waiter.resolve, waiter.reject);
      } else {
        waiter.resolve(result.outcome === 'stale' ? result : { outcome: 'unchanged' });
      }
    }
  }
}
