import { Injectable } from '@nestjs/common';
import {
  ClientRequests,
  formatCursor,
  InboxAckSchema,
  InboxListRequestSchema,
  InboxReadAllRequestSchema,
  InboxReadRequestSchema,
  parseCursor,
  RequestErrorCodes,
  userFeedKeys,
  type FeedPosition,
  type InboxItem,
  type InboxListReply,
  type InboxReadReply,
} from '@herald/contracts';
import type { z } from 'zod';
import { OnClientRequest, RequestFailure } from '../sockets/client-request.decorator.js';
import type { NotificationSocket } from '../sockets/socket.types.js';
import { DeliveryAckCoalescer } from './delivery-ack-coalescer.js';
import { InboxState, type MarkReadResult } from './inbox-store.js';

/**
 * The inbox requests of a connected user: always that socket's own user (the token's `sub`), whatever the payload
 * says. Read-state changes reach every device of the user through the route (FeedDeliveryService), in order with the
 * notifications; the replies here only tell the caller where things stand.
 */
@Injectable()
export class InboxRequestsService {
  constructor(
    private readonly inbox: InboxState,
    private readonly acks: DeliveryAckCoalescer,
  ) {}

  @OnClientRequest(ClientRequests.InboxList, InboxListRequestSchema)
  async list(socket: NotificationSocket, request: z.output<typeof InboxListRequestSchema>): Promise<InboxListReply> {
    const before = request.before === undefined ? undefined : cursorOrFail(request.before, 'before');
    const page = await this.inbox.list(userFeedKeys(socket.data.userId), before?.seq ?? 0, request.limit);
    if (before !== undefined && page.epoch !== before.epoch) throw staleCursor('before');
    const items = page.items.map(({ envelopeJson, read }): InboxItem => ({ ...(JSON.parse(envelopeJson) as Omit<InboxItem, 'read'>), read }));
    const oldest = page.items.at(-1);
    return { items, next: page.more && page.epoch !== null && oldest !== undefined ? formatCursor({ epoch: page.epoch, seq: oldest.seq }) : null };
  }

  @OnClientRequest(ClientRequests.InboxRead, InboxReadRequestSchema)
  async read(socket: NotificationSocket, request: z.output<typeof InboxReadRequestSchema>): Promise<InboxReadReply> {
    return replyOf(await this.inbox.markRead(userFeedKeys(socket.data.userId), request.ids));
  }

  @OnClientRequest(ClientRequests.InboxReadAll, InboxReadAllRequestSchema)
  async readAll(socket: NotificationSocket, request: z.output<typeof InboxReadAllRequestSchema>): Promise<InboxReadReply> {
    const upTo = request.upTo === undefined ? null : cursorOrFail(request.upTo, 'upTo');
    const result = await this.inbox.markAllRead(userFeedKeys(socket.data.userId), upTo);
    if (result === undefined) throw staleCursor('upTo');
    return replyOf(result);
  }

  /** No reply: acknowledgements are fire-and-forget, batched by the client and gathered per user (DeliveryAckCoalescer). */
  @OnClientRequest(ClientRequests.InboxAck, InboxAckSchema)
  acknowledge(socket: NotificationSocket, request: z.output<typeof InboxAckSchema>): void {
    this.acks.add(socket.data.userId, cursorOrFail(request.cursor, 'cursor'));
  }
}

function cursorOrFail(cursor: string, field: string): FeedPosition {
  const position = parseCursor(cursor);
  if (position === undefined) throw new RequestFailure(RequestErrorCodes.InvalidRequest, `${field}: not a cursor`);
  return position;
}

const staleCursor = (field: string): RequestFailure =>
  new RequestFailure(RequestErrorCodes.StaleCursor, `${field}: not a cursor of this inbox (from an earlier incarnation of it, or never issued)`);

const replyOf = (result: MarkReadResult): InboxReadReply => ({
  unread: result.unread,
  readUpTo: result.readUpTo > 0 && result.epoch !== null ? formatCursor({ epoch: result.epoch, seq: result.readUpTo }) : null,
});
