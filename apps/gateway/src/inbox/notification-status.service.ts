import { Injectable } from '@nestjs/common';
import { formatCursor, userFeedKeys, type NotificationStatusQuery, type NotificationStatusReply } from '@herald/contracts';
import { MetricsService } from '../ops/metrics.service.js';
import { InboxState } from './inbox-store.js';

/** `notification.status`: what a publisher may know of one notification it sent. */
@Injectable()
export class NotificationStatusService {
  constructor(
    private readonly inbox: InboxState,
    private readonly metrics: MetricsService,
  ) {}

  async status({ userId, id }: NotificationStatusQuery): Promise<NotificationStatusReply> {
    const stored = await this.inbox.status(userFeedKeys(userId), id);
    this.metrics.statusQueried(stored !== undefined);
    if (stored === undefined) return { id, userId, stored: false, delivered: false, read: false };
    const reply: NotificationStatusReply = {
      id,
      userId,
      stored: true,
      cursor: formatCursor(stored.position),
      delivered: stored.deliveredAtMs !== null,
      read: stored.readAtMs !== null,
    };
    // A time of 0 means "happened, time unknown" (its mark was trimmed): the flag stays, the time is left out.
    if (stored.storedAtMs) reply.storedAt = new Date(stored.storedAtMs).toISOString();
    if (stored.deliveredAtMs) reply.deliveredAt = new Date(stored.deliveredAtMs).toISOString();
    if (stored.readAtMs) reply.readAt = new Date(stored.readAtMs).toISOString();
    return reply;
  }
}
