import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import {
  AuthFailureReasons,
  ClientEvents,
  ClientRequests,
  ConnectRefusalReasons,
  FEED_START,
  Feeds,
  NOTIFICATIONS_NAMESPACE,
  RequestErrorCodes,
  SessionEndReasons,
  isRequestError,
  type ClientToServerEvents,
  type Feed,
  type FeedGap,
  type HandshakeAuth,
  type InboxItem,
  type InboxListReply,
  type InboxListRequest,
  type InboxUpdatedPayload,
  type NotificationEnvelope,
  type ReadState,
  type RequestErrorCode,
  type ServerToClientEvents,
  type SessionEndReason,
  type SessionReadyPayload,
  type SessionRefreshReply,
} from '@herald/contracts';
import { AckBatcher, DEFAULT_ACK_INTERVAL_MS } from './ack-batcher.js';
import { MemoryCursorStorage, cursorKeys, type CursorStorage } from './cursor-storage.js';
import { InboxState } from './inbox-state.js';
import { RecentIds } from './recent-ids.js';
import { TypedEmitter } from './typed-emitter.js';

/** A token, or a function that returns one (sync or async): called on every connect, so a reconnect gets a fresh one. */
export type TokenSource = string | (() => string | Promise<string>);

export const ConnectionStates = {
  /** Connecting or reconnecting (a handshake, the replay). */
  Connecting: 'connecting',
  /** `session.ready` arrived: replay done, badge known, live notifications flow. */
  Connected: 'connected',
  /** The connection dropped; the client reconnects by itself. */
  Disconnected: 'disconnected',
  /** Closed by `close()`, or refused for good (an invalid token): nothing more happens. */
  Ended: 'ended',
} as const;
export type ConnectionState = (typeof ConnectionStates)[keyof typeof ConnectionStates];

/** `HeraldRequestError.code`: the server's RequestErrorCodes, and two of the client's own. */
export const ClientErrorCodes = {
  ...RequestErrorCodes,
  /** No reply within `requestTimeoutMs`. */
  Timeout: 'timeout',
  /** The client was closed. */
  Closed: 'closed',
} as const;
export type ClientErrorCode = RequestErrorCode | typeof ClientErrorCodes.Timeout | typeof ClientErrorCodes.Closed;

/** A refused or failed request; `code` says why (branch on it, not on the message). */
export class HeraldRequestError extends Error {
  override readonly name = 'HeraldRequestError';

  constructor(
    readonly code: ClientErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The connection was refused for good (`reason` from the server), or the token function failed. */
export class HeraldConnectionError extends Error {
  override readonly name = 'HeraldConnectionError';

  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** `inbox.updated`, and the ids of the notifications this device knows that it made read. */
export interface InboxUpdate extends InboxUpdatedPayload {
  read: string[];
}

export interface FeedGapEvent extends FeedGap {
  feed: Feed;
}

export interface HeraldClientEvents {
  [event: string]: (...args: never[]) => void;
  /** A notification, once (duplicates by id are dropped), replayed ones first. */
  notification: (notification: NotificationEnvelope) => void;
  /** The badge changed (or was set by a session.ready). */
  unread: (unread: number) => void;
  /** A (re)connect completed: replay done. */
  ready: (ready: SessionReadyPayload) => void;
  /** Notifications may be missing between `after` and `before` of `feed`: refetch with `list()`. */
  gap: (gap: FeedGapEvent) => void;
  state: (state: ConnectionState) => void;
  /** The read state changed (on this device or another). */
  updated: (update: InboxUpdate) => void;
  /** Something the app should know went wrong (a refused connection, a throwing listener). */
  error: (error: Error) => void;
}

export interface HeraldClientOptions {
  /** Where Herald is, e.g. `https://herald.example.com` (the `/notifications` namespace is added). */
  url: string;
  token: TokenSource;
  /** Names the stored cursors. Default: the token's `sub` (read, not verified: the server verifies). */
  userId?: string;
  /** Where cursors are kept. Default: memory. In a browser pass `localStorageCursorStorage()` to resume after a reload. */
  storage?: CursorStorage;
  /** Delivery acknowledgements: at most one per this many ms. Default 1000 (DEFAULT_ACK_INTERVAL_MS). */
  ackIntervalMs?: number;
  /** How long a request waits for its reply. Default 10 000 ms. */
  requestTimeoutMs?: number;
  /** Notification ids remembered for deduplication. Default 1000. */
  dedupeCapacity?: number;
  /** Default true; false: call `connect()`. */
  autoConnect?: boolean;
  /** Passed to socket.io-client (transports, reconnection delays...). */
  socket?: Partial<ManagerOptions & SocketOptions>;
}

export interface ListOptions {
  /** The `next` of the previous page; omitted: the newest page. */
  before?: string;
  /** 1..100, default 20. */
  limit?: number;
}

const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 30_000;
/** How long close() keeps the connection after its last acknowledgement (see close()). */
const CLOSE_LINGER_MS = 100;

type Timer = ReturnType<typeof setTimeout>;
type HeraldSocket = Socket<ServerToClientEvents, ClientToServerEvents>;

/**
 * A Herald client for browsers and Node: connects, resumes from the stored cursor on every (re)connect, drops
 * duplicates, keeps the unread badge exact from events, acknowledges delivery in batches, and pages/marks the inbox.
 */
export class HeraldClient extends TypedEmitter<HeraldClientEvents> {
  private readonly socket: HeraldSocket;
  private readonly storage: CursorStorage;
  private readonly requestTimeoutMs: number;
  private readonly seen: RecentIds;
  private readonly inbox: InboxState;
  private readonly acks: AckBatcher;
  private user: string | undefined;
  private since: string | undefined;
  private broadcastSince: string | undefined;
  private current: ConnectionState = ConnectionStates.Disconnected;
  private lastEnd: SessionEndReason | undefined;
  private tokenFailed = false;
  private retries = 0;
  private retryTimer: Timer | undefined;
  private closing: Promise<void> | undefined;

  constructor(private readonly options: HeraldClientOptions) {
    super((error) => this.emit('error', error instanceof Error ? error : new Error(String(error))));
    this.storage = options.storage ?? new MemoryCursorStorage();
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
    this.seen = new RecentIds(options.dedupeCapacity ?? 1000);
    this.inbox = new InboxState(Math.max(options.dedupeCapacity ?? 1000, 1000));
    this.acks = new AckBatcher((cursor) => this.sendAck(cursor), options.ackIntervalMs ?? DEFAULT_ACK_INTERVAL_MS);
    this.user = options.userId;
    if (this.user !== undefined) this.loadCursors(this.user);
    this.socket = io(`${options.url.replace(/\/+$/, '')}${NOTIFICATIONS_NAMESPACE}`, {
      ...options.socket,
      autoConnect: false,
      // Called on every (re)connect: the latest token and cursors, never the first ones.
      auth: (callback) => void this.handshake().then(callback),
    });
    this.listen();
    if (options.autoConnect !== false) this.connect();
  }

  /** The live unread count (0 until the first `session.ready`). */
  get unread(): number {
    return this.inbox.unread;
  }

  get readUpTo(): string | null {
    return this.inbox.readUpTo;
  }

  get state(): ConnectionState {
    return this.current;
  }

  /** The user-feed cursor the next connect resumes from (the last notification processed, or the last session.ready's). */
  get cursor(): string | undefined {
    return this.since;
  }

  /** The read flag of a notification this device received or listed; undefined for one it does not know. */
  isRead(id: string): boolean | undefined {
    return this.inbox.isRead(id);
  }

  connect(): void {
    if (this.current === ConnectionStates.Ended) throw new HeraldConnectionError('closed', 'this client was closed: make a new one');
    this.setState(ConnectionStates.Connecting);
    this.socket.connect();
  }

  /** A page of the inbox, newest first, with each item's read flag (the server's, or a newer one from events). */
  async list(options: ListOptions = {}): Promise<InboxListReply> {
    const request: InboxListRequest = {};
    if (options.before !== undefined) request.before = options.before;
    if (options.limit !== undefined) request.limit = options.limit;
    const reply = await this.request<InboxListReply>(ClientRequests.InboxList, request);
    const items: InboxItem[] = reply.items.map((item) => ({ ...item, read: this.inbox.onListed(item.id, item.cursor, item.read) }));
    return { items, next: reply.next };
  }

  /** Marks notifications read. The badge follows through the `inbox.updated` event every device gets. */
  async markRead(ids: readonly string[]): Promise<ReadState> {
    return this.request<ReadState>(ClientRequests.InboxRead, { ids: [...ids] });
  }

  /**
   * Marks everything up to `upTo` read; by default up to the latest notification this device has shown, so one that
   * arrives meanwhile stays unread (instead of "everything on the server", which would race it).
   */
  async markAllRead(upTo: string | undefined = this.since): Promise<ReadState> {
    // Nothing shown yet: nothing to mark.
    if (upTo === undefined) return { unread: this.inbox.unread, readUpTo: this.inbox.readUpTo };
    return this.request<ReadState>(ClientRequests.InboxReadAll, { upTo });
  }

  /** Moves the session's expiry with a fresh token from the token function, without reconnecting. */
  async refreshToken(): Promise<SessionRefreshReply> {
    return this.request<SessionRefreshReply>(ClientRequests.SessionRefresh, { token: await this.resolveToken() });
  }

  /**
   * Sends the pending delivery acknowledgement and disconnects for good (nothing is emitted after this). Resolves once
   * disconnected: when an acknowledgement was just sent, CLOSE_LINGER_MS later, because a socket.io server drops an
   * event that it reads together with the disconnect packet ("ignore packet received after disconnection").
   */
  close(): Promise<void> {
    if (this.closing !== undefined) return this.closing;
    const acked = this.acks.flush();
    this.acks.cancel();
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.setState(ConnectionStates.Ended);
    this.closing = acked
      ? new Promise((resolve) =>
          setTimeout(() => {
            this.socket.disconnect();
            resolve();
          }, CLOSE_LINGER_MS),
        )
      : Promise.resolve(this.socket.disconnect()).then(() => undefined);
    return this.closing;
  }

  private listen(): void {
    const socket = this.socket;
    // Once ended (closing), nothing more is processed: what arrives meanwhile is replayed to the next client.
    socket.on(ClientEvents.Notification, (envelope) => this.current !== ConnectionStates.Ended && this.onNotification(envelope));
    socket.on(ClientEvents.SessionReady, (ready) => this.current !== ConnectionStates.Ended && this.onReady(ready));
    socket.on(ClientEvents.InboxUpdated, (update) => {
      if (this.current === ConnectionStates.Ended) return;
      const read = this.inbox.onUpdated(update);
      this.emit('updated', { ...update, read });
      this.emit('unread', this.inbox.unread);
    });
    socket.on(ClientEvents.SessionEnded, ({ reason }) => (this.lastEnd = reason));
    socket.io.on('reconnect_attempt', () => this.setState(ConnectionStates.Connecting));
    socket.on('disconnect', (reason) => {
      if (this.current === ConnectionStates.Ended) return;
      this.setState(ConnectionStates.Disconnected);
      // The server ended the session: socket.io-client does not come back by itself.
      if (reason === 'io server disconnect') {
        if (this.lastEnd === SessionEndReasons.TokenExpired && typeof this.options.token !== 'function') {
          this.end(new HeraldConnectionError(SessionEndReasons.TokenExpired, 'the token expired and no token function was given to get a new one'));
        } else {
          this.retry();
        }
      }
    });
    socket.on('connect_error', (error) => {
      if (this.current === ConnectionStates.Ended) return;
      // A transport failure: socket.io-client retries by itself.
      if (socket.active) return;
      const data: unknown = (error as { data?: unknown }).data;
      const reason = typeof data === 'object' && data !== null && 'reason' in data && typeof data.reason === 'string' ? data.reason : error.message;
      const canRenew = typeof this.options.token === 'function';
      const retryable =
        reason === ConnectRefusalReasons.ShuttingDown ||
        (canRenew && reason === AuthFailureReasons.ExpiredToken) ||
        (this.tokenFailed && reason === AuthFailureReasons.MissingToken);
      if (retryable) this.retry();
      else this.end(new HeraldConnectionError(reason, `Herald refused the connection: ${reason}`));
    });
  }

  private onNotification(envelope: NotificationEnvelope): void {
    const feed = envelope.feed === Feeds.Broadcast ? Feeds.Broadcast : Feeds.User;
    const fresh = this.seen.add(`${feed}:${envelope.id}`);
    if (fresh && feed === Feeds.User) this.inbox.onNotification(envelope.id, envelope.cursor);
    if (fresh) this.emit('notification', envelope);
    // Processed (shown, or a duplicate of one shown): resume after it and acknowledge it.
    if (feed === Feeds.Broadcast) {
      this.broadcastSince = envelope.cursor;
      if (this.user !== undefined) this.storage.set(cursorKeys(this.user).broadcastSince, envelope.cursor);
      return;
    }
    this.since = envelope.cursor;
    if (this.user !== undefined) this.storage.set(cursorKeys(this.user).since, envelope.cursor);
    this.acks.processed(envelope.cursor);
    if (fresh && this.inbox.isReady) this.emit('unread', this.inbox.unread);
  }

  private onReady(ready: SessionReadyPayload): void {
    this.retries = 0;
    this.lastEnd = undefined;
    // A device that got nothing yet resumes from the feed's head next time, or from its start if it was empty.
    this.since = ready.cursor ?? this.since ?? FEED_START;
    this.broadcastSince = ready.broadcast.cursor ?? this.broadcastSince ?? FEED_START;
    this.saveCursors();
    this.inbox.onReady(ready);
    this.setState(ConnectionStates.Connected);
    this.emit('ready', ready);
    if (ready.gap !== undefined) this.emit('gap', { ...ready.gap, feed: Feeds.User });
    if (ready.broadcast.gap !== undefined) this.emit('gap', { ...ready.broadcast.gap, feed: Feeds.Broadcast });
    this.emit('unread', this.inbox.unread);
    this.acks.resume();
  }

  private async handshake(): Promise<HandshakeAuth> {
    const auth: HandshakeAuth = {};
    try {
      auth.token = await this.resolveToken();
      this.tokenFailed = false;
    } catch (error) {
      // Sent without a token: the refusal (missing_token) is retried, as the token function may work next time.
      this.tokenFailed = true;
      this.emit('error', new HeraldConnectionError('token_function_failed', `the token function failed: ${error instanceof Error ? error.message : String(error)}`));
      return auth;
    }
    const user = this.options.userId ?? subjectOf(auth.token);
    if (user !== undefined && user !== this.user) {
      this.user = user;
      this.loadCursors(user);
    }
    if (this.since !== undefined) auth.since = this.since;
    if (this.broadcastSince !== undefined) auth.broadcastSince = this.broadcastSince;
    return auth;
  }

  private async resolveToken(): Promise<string> {
    const source = this.options.token;
    return typeof source === 'function' ? source() : source;
  }

  private loadCursors(user: string): void {
    const keys = cursorKeys(user);
    this.since = this.storage.get(keys.since) ?? undefined;
    this.broadcastSince = this.storage.get(keys.broadcastSince) ?? undefined;
  }

  private saveCursors(): void {
    if (this.user === undefined) return;
    const keys = cursorKeys(this.user);
    if (this.since !== undefined) this.storage.set(keys.since, this.since);
    if (this.broadcastSince !== undefined) this.storage.set(keys.broadcastSince, this.broadcastSince);
  }

  private sendAck(cursor: string): boolean {
    if (!this.socket.connected) return false;
    this.socket.emit(ClientRequests.InboxAck, { cursor });
    return true;
  }

  private async request<T>(
    event: typeof ClientRequests.InboxList | typeof ClientRequests.InboxRead | typeof ClientRequests.InboxReadAll | typeof ClientRequests.SessionRefresh,
    payload: object,
  ): Promise<T> {
    if (this.current === ConnectionStates.Ended) throw new HeraldRequestError(ClientErrorCodes.Closed, 'this client was closed');
    let reply: unknown;
    try {
      reply = await (this.socket.timeout(this.requestTimeoutMs) as unknown as UntypedAckSocket).emitWithAck(event, payload);
    } catch (error) {
      throw new HeraldRequestError(
        ClientErrorCodes.Timeout,
        `${event}: no reply within ${this.requestTimeoutMs} ms (${error instanceof Error ? error.message : String(error)})`,
      );
    }
    if (isRequestError(reply)) throw new HeraldRequestError(reply.error.code, `${event}: ${reply.error.message}`);
    return reply as T;
  }

  private retry(): void {
    if (this.retryTimer !== undefined || this.current === ConnectionStates.Ended) return;
    const delay = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.retries) * (0.5 + Math.random() / 2);
    this.retries++;
    this.setState(ConnectionStates.Connecting);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.current !== ConnectionStates.Ended) this.socket.connect();
    }, delay);
  }

  private end(error: HeraldConnectionError): void {
    this.acks.cancel();
    this.setState(ConnectionStates.Ended);
    this.closing = Promise.resolve();
    this.socket.disconnect();
    this.emit('error', error);
  }

  private setState(state: ConnectionState): void {
    if (state === this.current) return;
    this.current = state;
    this.emit('state', state);
  }
}

/** The one call `request()` makes, without socket.io-client's typing (its `emitWithAck` after `timeout()` is `any`). */
interface UntypedAckSocket {
  emitWithAck(event: string, payload: object): Promise<unknown>;
}

/** The `sub` claim of a JWT, read without verifying (only to name the stored cursors). */
function subjectOf(token: string | undefined): string | undefined {
  const payload = token?.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/'));
    const claims: unknown = JSON.parse(json);
    return typeof claims === 'object' && claims !== null && 'sub' in claims && typeof claims.sub === 'string' ? claims.sub : undefined;
  } catch {
    return undefined;
  }
}
