import { z } from 'zod';
import { ClientRequests, type Reply } from './client-protocol.js';
import type { NotificationEnvelope } from './commands.schema.js';

/** Largest page `inbox.list` returns; the default page. */
export const MAX_INBOX_PAGE = 100;
export const DEFAULT_INBOX_PAGE = 20;
/** Most ids one `inbox.read` may mark. */
export const MAX_READ_IDS = 100;

const cursor = z.string().min(1).max(40);
const notificationId = z.string().min(1).max(200);

export const InboxListRequestSchema = z.strictObject({
  /** Only notifications older than this cursor (the `next` of the previous page). Omitted: the newest. */
  before: cursor.optional(),
  limit: z.number().int().min(1).max(MAX_INBOX_PAGE).default(DEFAULT_INBOX_PAGE),
});
export const InboxReadRequestSchema = z.strictObject({ ids: z.array(notificationId).min(1).max(MAX_READ_IDS) });
export const InboxReadAllRequestSchema = z.strictObject({
  /** Everything up to and including this cursor is read (what the device has shown). Omitted: everything stored so far. */
  upTo: cursor.optional(),
});
export const InboxAckSchema = z.strictObject({ cursor });
export const SessionRefreshRequestSchema = z.strictObject({ token: z.string().min(1).max(8192) });

export type InboxListRequest = z.input<typeof InboxListRequestSchema>;
export type InboxReadRequest = z.input<typeof InboxReadRequestSchema>;
export type InboxReadAllRequest = z.input<typeof InboxReadAllRequestSchema>;
export type InboxAck = z.input<typeof InboxAckSchema>;
export type SessionRefreshRequest = z.input<typeof SessionRefreshRequestSchema>;

/** One notification of an inbox page: the envelope as delivered, and whether the user has read it. */
export type InboxItem = NotificationEnvelope & { read: boolean };

export interface InboxListReply {
  items: InboxItem[];
  /** Pass as `before` for the next (older) page; null when this page reaches the oldest retained notification. */
  next: string | null;
}

/** Where the user's read state stands: in `session.ready`, `inbox.updated` and the replies to reads. */
export interface ReadState {
  /** Retained notifications of the user's inbox that are not read. */
  unread: number;
  /** Everything up to this cursor is read (mark-all-read); null when nothing was marked that way. */
  readUpTo: string | null;
}

export type InboxReadReply = ReadState;
export type SessionRefreshReply = { exp: number };

/**
 * Sent to every device of the user when the read state changes (a read on any device, or unread notifications trimmed
 * by retention). `cursor` is the latest notification the count includes: the count is exact once the device has every
 * notification up to it, and a notification after it adds one.
 */
export interface InboxUpdatedPayload extends ReadState {
  cursor: string | null;
  /** Ids newly marked read by `inbox.read`; absent after mark-all-read (everything up to `readUpTo`). */
  ids?: string[];
}

/** Typed client-to-server event map, for `Server<...>` on the gateway and `Socket<...>` in clients. */
export interface ClientToServerEvents {
  [ClientRequests.InboxList]: (request: InboxListRequest, reply: (reply: Reply<InboxListReply>) => void) => void;
  [ClientRequests.InboxRead]: (request: InboxReadRequest, reply: (reply: Reply<InboxReadReply>) => void) => void;
  [ClientRequests.InboxReadAll]: (request: InboxReadAllRequest, reply: (reply: Reply<InboxReadReply>) => void) => void;
  [ClientRequests.InboxAck]: (ack: InboxAck) => void;
  [ClientRequests.SessionRefresh]: (request: SessionRefreshRequest, reply: (reply: Reply<SessionRefreshReply>) => void) => void;
}
