/**
 * Durable delivery: where notifications are stored and routed in Redis, and how positions in a feed are named.
 *
 * Every key and channel of one feed (a user's inbox, or the broadcast feed) carries the same hash tag, so a feed
 * lives in one Redis Cluster slot and its store script touches one slot (docs/architecture.md).
 */

/** Prefix of every Herald key and channel. */
export const KEY_PREFIX = 'herald';

/**
 * The stream publishers XADD commands to (fields `pattern`, `data`: docs/protocol.md). One consumer group reads it.
 * It and its dead-letter stream share a hash tag: moving an entry between them is one script, in one slot.
 */
export const COMMAND_STREAM = `${KEY_PREFIX}:{commands}`;
/** The consumer group of every gateway instance on COMMAND_STREAM. */
export const COMMAND_GROUP = 'herald-gateways';
/** Commands that failed INGEST_MAX_ATTEMPTS times are moved here, with the error, for an operator to inspect. */
export const DEAD_LETTER_STREAM = `${KEY_PREFIX}:{commands}:dead`;
/** Which instance reads the command stream, when commands are stored in stream order (INGEST_ORDERED): a lease. */
export const INGEST_LEASE_KEY = `${KEY_PREFIX}:{commands}:reader`;

/** The two kinds of feed a device follows: its user's inbox, and the broadcast feed every device shares. */
export const Feeds = {
  User: 'user',
  Broadcast: 'broadcast',
} as const;
export type Feed = (typeof Feeds)[keyof typeof Feeds];

/** The keys and route channel of one feed, all in one hash-tag slot. */
export interface FeedKeys {
  /**
   * Hash: `e` epoch, `s` the latest sequence number, `r` read up to (mark-all-read), `d` delivered up to (the highest
   * acknowledged), `v` the read state's version (moves with every change of the unread count other than an append).
   */
  readonly meta: string;
  /** Stream: one entry per stored notification, entry id `<seq>-0`, fields `n` (envelope JSON), `i` (id), `t` (ms). */
  readonly log: string;
  /** Hash: notification id -> sequence number, for deduplication while the notification is retained. */
  readonly ids: string;
  /** Shard channel (SPUBLISH/SSUBSCRIBE) on which each stored notification, and each read-state change, is routed. */
  readonly route: string;
  /** Sorted set: sequence numbers above `r` marked read one by one (score = member = seq). Small by construction. */
  readonly reads: string;
  /** Hash: seq -> when it was marked read one by one (ms). */
  readonly readAt: string;
  /** Sorted sets of `<seq>:<ms>` scored by seq: when `r` (read marks) and `d` (delivery marks) reached seq. */
  readonly readMarks: string;
  readonly ackMarks: string;
}

function feedKeys(tag: string): FeedKeys {
  const base = `${KEY_PREFIX}:{${tag}}`;
  return {
    meta: `${base}:meta`,
    log: `${base}:log`,
    ids: `${base}:ids`,
    route: `${base}:route`,
    reads: `${base}:reads`,
    readAt: `${base}:readat`,
    readMarks: `${base}:rmarks`,
    ackMarks: `${base}:dmarks`,
  };
}

/** A user's feed. The suffixes differ in their last characters, so no user id can make one user's key another's. */
export const userFeedKeys = (userId: string): FeedKeys => feedKeys(`u:${userId}`);
export const BROADCAST_FEED_KEYS: FeedKeys = feedKeys('b');

/**
 * The route canary of one instance: it SPUBLISHes a probe here every few seconds and, being SSUBSCRIBEd through the
 * same route subscriber it delivers with, expects it back (docs/architecture.md, "Readiness"). Hash-tagged by
 * instance so each instance's canary is a shard channel of its own; never a user's or the broadcast route.
 */
export const canaryChannel = (instanceId: string): string => `${KEY_PREFIX}:{canary:${instanceId}}:probe`;

/**
 * The sockets a user has open on every instance: a sorted set of `<instance>/<socket id>` members scored by when the
 * socket's lease expires (ms). Instances renew the leases of their sockets; a crashed instance's sockets drop out
 * when their leases pass. In the user's hash-tag slot, next to their feed.
 */
export const userConnectionsKey = (userId: string): string => `${KEY_PREFIX}:{u:${userId}}:conns`;

const USER_ROUTE_PREFIX = `${KEY_PREFIX}:{u:`;
const ROUTE_SUFFIX = '}:route';

/** The user whose route channel this is, or undefined for any other channel. */
export function userOfRoute(channel: string): string | undefined {
  if (!channel.startsWith(USER_ROUTE_PREFIX) || !channel.endsWith(ROUTE_SUFFIX)) return undefined;
  return channel.slice(USER_ROUTE_PREFIX.length, channel.length - ROUTE_SUFFIX.length);
}

/** A position in a feed: the epoch names one incarnation of the feed (it changes if the feed is lost), seq counts from 1. */
export interface FeedPosition {
  readonly epoch: string;
  readonly seq: number;
}

const EPOCH = /^[0-9a-z]{1,16}$/;

/**
 * The `since` of a device whose last session.ready said `cursor: null` (the feed was empty then): everything the feed
 * holds now came after it. Without it such a device could not resume, since a connect without `since` replays nothing.
 */
export const FEED_START = '0';

/**
 * Cursors are opaque to clients. Today a cursor is `<epoch>.<seq>`; clients store and send it back, never parse it.
 */
export function formatCursor(position: FeedPosition): string {
  return `${position.epoch}.${position.seq}`;
}

/** The position a cursor names, or undefined for anything that is not a cursor Herald could have issued. */
export function parseCursor(cursor: unknown): FeedPosition | undefined {
  if (typeof cursor !== 'string' || cursor.length > 40) return undefined;
  const dot = cursor.indexOf('.');
  if (dot <= 0) return undefined;
  const epoch = cursor.slice(0, dot);
  const digits = cursor.slice(dot + 1);
  if (!EPOCH.test(epoch) || !/^[1-9][0-9]{0,15}$/.test(digits)) return undefined;
  const seq = Number(digits);
  return Number.isSafeInteger(seq) ? { epoch, seq } : undefined;
}

/**
 * What the store scripts publish on a route channel, in the order Redis ran them:
 * - a stored notification: `<cursor> <pattern> <createdAtMs> <envelope JSON>`. The envelope JSON already carries its
 *   cursor, so a gateway frames it for sockets without parsing it;
 * - a change of the read state: `<head cursor> inbox.updated <version> <{unread, readUpTo, ids?} JSON>`, valid once the
 *   device has every notification up to the head cursor.
 */
export type RouteMessage = NotificationRouteMessage | ReadStateRouteMessage;

export interface NotificationRouteMessage {
  readonly kind: 'notification';
  readonly position: FeedPosition;
  readonly pattern: string;
  readonly createdAtMs: number;
  /** The `notification` envelope, as JSON text. */
  readonly envelopeJson: string;
}

export interface ReadStateRouteMessage {
  readonly kind: 'read-state';
  /** The feed's head when the read state changed. */
  readonly position: FeedPosition;
  readonly version: number;
  /** `{ unread, readUpTo, ids? }` as JSON text. */
  readonly stateJson: string;
}

/** The pattern slot of a read-state route message. */
export const READ_STATE_ROUTE_MARK = 'inbox.updated';

export function parseRouteMessage(message: string): RouteMessage | undefined {
  const first = message.indexOf(' ');
  const second = first < 0 ? -1 : message.indexOf(' ', first + 1);
  const third = second < 0 ? -1 : message.indexOf(' ', second + 1);
  if (third < 0) return undefined;
  const position = parseCursor(message.slice(0, first));
  const number = Number(message.slice(second + 1, third));
  if (position === undefined || !Number.isFinite(number)) return undefined;
  const pattern = message.slice(first + 1, second);
  const json = message.slice(third + 1);
  if (pattern === READ_STATE_ROUTE_MARK) return { kind: 'read-state', position, version: number, stateJson: json };
  return { kind: 'notification', position, pattern, createdAtMs: number, envelopeJson: json };
}
