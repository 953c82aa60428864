import { Module } from '@nestjs/common';
import { InboxStore, RedisInboxStore } from './inbox-store.js';

/** The per-user feeds in Redis: append once (which routes), read after a cursor. */
@Module({
  providers: [RedisInboxStore, { provide: InboxStore, useExisting: RedisInboxStore }],
  exports: [InboxStore, RedisInboxStore],
})
export class InboxModule {}
