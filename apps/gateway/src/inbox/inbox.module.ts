import { Module } from '@nestjs/common';
import { DeliveryAckCoalescer } from './delivery-ack-coalescer.js';
import { InboxRequestsService } from './inbox-requests.service.js';
import { InboxState, InboxStore, RedisInboxStore } from './inbox-store.js';
import { NotificationStatusService } from './notification-status.service.js';

/** The per-user feeds in Redis: append once (which routes), read after a cursor; the inbox requests; notification status. */
@Module({
  providers: [
    RedisInboxStore,
    DeliveryAckCoalescer,
    InboxRequestsService,
    NotificationStatusService,
    { provide: InboxStore, useExisting: RedisInboxStore },
    { provide: InboxState, useExisting: RedisInboxStore },
  ],
  exports: [InboxStore, InboxState, RedisInboxStore, NotificationStatusService],
})
export class InboxModule {}
