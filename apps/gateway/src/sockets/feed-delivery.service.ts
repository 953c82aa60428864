import { Injectable } from '@nestjs/common';
import {
  BROADCAST_FEED_KEYS,
  ClientEvents,
  FEED_START,
  Feeds,
  GapReasons,
  ResumeOutcomes,
  SocketWritePaths,
  isNotifyPattern,
  Patterns,
  formatCursor,
  parseCursor,
  parseRouteMessage,
  userFeedKeys,
  userOfRoute,
  userRoom,
  type Feed,
  type FeedKeys,
  type FeedReady,
  type InboxUpdatedPayload,
  type NotificationRouteMessage,
  type ReadStateRouteMessage,
} from '@herald/contracts';
import { ShardedRouter } from '@herald/redis-io-adapter';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { InboxStore, type FeedRange, type ReadStateView } from '../inbox/inbox-store.js';
import { MetricsService } from '../ops/metrics.service.js';
import { OutboundLimitService } from './outbound-limit.service.js';
import { SocketWriter, type EncodedEvent } from './socket-writer.js';
import type { NotificationNamespace, NotificationSocket } from './socket.types.js';

/** Notifications read from the store per round trip while replaying or catching up. */
const PAGE = 100;
/** How long a catch-up that failed (Redis unreachable) waits before trying again. */
const RETRY_MS = 1000;

/** What a client asked to resume from: the raw `auth` values, validated here. */
export interface ResumeRequest {
  since: unknown;
  broadcastSince: unknown;
}

/**
 * Where one socket stands in one feed. Every notification the socket gets advances `seq` by exactly one, so a live
 * notification is written only if it is the next one; anything older was already written (skipped), anything newer
 * means some were missed, and the socket catches up from the store first.
 */
interface FeedState {
  readonly feed: Feed;
  epoch: string | null;
  seq: number;
  /** The version of the read state the socket was last told (user feed only): older read-state messages are skipped. */
  version: number;
  /** While true, live notifications wait in `pending`: a replay or catch-up is writing older ones. */
  syncing: boolean;
  pending: Live[] | undefined;
}

interface Device {
  readonly socket: NotificationSocket;
  readonly user: FeedState;
  readonly broadcast: FeedState;
}

/** A routed notification, encoded once for every local socket it goes to. */
class LiveNotification {
  private encoded: EncodedEvent | undefined;

  constructor(readonly message: NotificationRouteMessage) {}

  encode(writer: SocketWriter): EncodedEvent {
    return (this.encoded ??= writer.encodeJson(ClientEvents.Notification, this.message.envelopeJson));
  }
}

/** A routed change of the read state, parsed once for every local socket of its user. */
class LiveReadState {
  private parsed: InboxUpdatedPayload | undefined;

  constructor(readonly message: ReadStateRouteMessage) {}

  payload(): InboxUpdatedPayload {
    return (this.parsed ??= { ...(JSON.parse(this.message.stateJson) as Omit<InboxUpdatedPayload, 'cursor'>), cursor: formatCursor(this.message.position) });
  }
}

type Live = LiveNotification | LiveReadState;

type Verdict = 'write' | 'skip' | 'gap';

/**
 * Delivery to this instance's sockets, with no gap and no duplicate per socket.
 *
 * On connect: subscribe to the user's route (so nothing published from now on is missed), replay from the store what
 * came after the client's cursor while live notifications wait, emit `session.ready`, then let the waiting ones through,
 * skipping what the replay already wrote. Live: each routed notification goes to the local sockets of its user (or to
 * every socket, for the broadcast feed) if it is the next one for that socket; a socket that sees a jump in the
 * sequence (a notification routed while this instance's subscription was down) catches up from the store first.
 */
@Injectable()
export class FeedDeliveryService {
  private readonly devices = new WeakMap<NotificationSocket, Device>();
  private namespace!: NotificationNamespace;
  private writer!: SocketWriter;

  constructor(
    private readonly store: InboxStore,
    private readonly router: ShardedRouter,
    private readonly metrics: MetricsService,
    @InjectPinoLogger(FeedDeliveryService.name) private readonly logger: PinoLogger,
    private readonly outbound: OutboundLimitService,
  ) {}

  /** Called once the namespace exists. The broadcast route is joined for good: every instance delivers broadcasts. */
  bind(namespace: NotificationNamespace): Promise<void> {
    this.namespace = namespace;
    this.writer = new SocketWriter(namespace);
    this.metrics.setFastJsonFraming(this.writer.fastJson);
    if (!this.writer.fastJson) this.logger.warn('socket.io encodes differently than expected: notifications are parsed and re-encoded (slower)');
    this.router.onMessage((channel, message) => this.route(channel, message));
    this.router.onResubscribed(() => this.catchUpEveryone());
    return this.router.join(BROADCAST_FEED_KEYS.route);
  }

  /**
   * A socket connected: subscribe, replay, `session.ready`. Call synchronously from the connection handler, so that
   * `detach` always follows an attach. Rejects if the store cannot be read; the caller closes the transport.
   */
  async attach(socket: NotificationSocket, resume: ResumeRequest): Promise<void> {
    const userKeys = userFeedKeys(socket.data.userId);
    const device: Device = { socket, user: newState(Feeds.User), broadcast: newState(Feeds.Broadcast) };
    this.devices.set(socket, device);
    await this.router.join(userKeys.route);
    if (gone(socket)) return;
    const [user, broadcast] = await Promise.all([this.resume(device, device.user, resume.since), this.resume(device, device.broadcast, resume.broadcastSince)]);
    if (gone(socket)) return;
    // The read state is the one the user feed's last read returned: valid at exactly the cursor session.ready names.
    device.user.version = user.readState.version;
    socket.emit(ClientEvents.SessionReady, { ...user.ready, ...readStateOf(device.user, user.readState), broadcast: broadcast.ready });
    this.metrics.resumed(user.ready.gap?.reason ?? (user.ready.replayed > 0 ? ResumeOutcomes.Replayed : ResumeOutcomes.None));
    await Promise.all([this.flush(device, device.user), this.flush(device, device.broadcast)]);
  }

  detach(socket: NotificationSocket): void {
    const device = this.devices.get(socket);
    if (device === undefined) return;
    this.devices.delete(socket);
    this.router.leave(keysOf(device, device.user).route);
  }

  private route(channel: string, raw: string): void {
    const message = parseRouteMessage(raw);
    if (message === undefined) {
      this.logger.error({ channel }, 'unreadable route message dropped');
      return;
    }
    const live = message.kind === 'notification' ? new LiveNotification(message) : new LiveReadState(message);
    let written = 0;
    if (channel === BROADCAST_FEED_KEYS.route) {
      for (const socket of this.namespace.sockets.values()) {
        const device = this.devices.get(socket);
        if (device !== undefined) written += this.offer(device, device.broadcast, live);
      }
    } else {
      const userId = userOfRoute(channel);
      const ids = userId === undefined ? undefined : this.namespace.adapter.rooms.get(userRoom(userId));
      for (const id of ids ?? []) {
        const socket = this.namespace.sockets.get(id);
        const device = socket === undefined ? undefined : this.devices.get(socket);
        if (device !== undefined) written += this.offer(device, device.user, live);
      }
    }
    if (message.kind !== 'notification') return;
    // Stored by a notify command, so always one of them; anything else would be a foreign publisher on our channel.
    this.metrics.delivered(isNotifyPattern(message.pattern) ? message.pattern : Patterns.NotifyUser, written, message.createdAtMs);
  }

  /** Writes a live notification (or read state) to one socket if it is the next one; returns how many notifications were written (0 or 1). */
  private offer(device: Device, state: FeedState, live: Live): number {
    if (state.syncing) {
      (state.pending ??= []).push(live);
      return 0;
    }
    const verdict = verdictOf(state, live);
    if (verdict === 'write') return this.writeLive(device, state, live) ? 1 : 0;
    if (verdict === 'skip') {
      if (live instanceof LiveNotification) this.metrics.duplicateSkipped();
      return 0;
    }
    state.syncing = true;
    state.pending = [live];
    void this.catchUp(device, state);
    return 0;
  }

  private writeLive(device: Device, state: FeedState, live: Live): boolean {
    if (live instanceof LiveReadState) {
      state.version = live.message.version;
      device.socket.emit(ClientEvents.InboxUpdated, live.payload());
      return false;
    }
    const { epoch, seq } = live.message.position;
    // Keep the string the state has: the message's is cut out of the whole route message and would keep it alive.
    if (state.epoch !== epoch) state.epoch = epoch;
    state.seq = seq;
    const written = this.write(device, live.encode(this.writer));
    // A socket that does not read is ended here, before it holds more (slow consumers, outbound-limit.service.ts).
    if (written) this.outbound.check(device.socket);
    return written;
  }

  private write(device: Device, event: EncodedEvent): boolean {
    const path = this.writer.write(device.socket, event);
    if (path === undefined) return false;
    this.metrics.socketWrite(path);
    if (path === SocketWritePaths.Fallback && !this.fallbackLogged) {
      this.fallbackLogged = true;
      this.logger.warn('WebSocket internals not found: notifications take engine.io\'s slower path (herald_socket_writes_total{path="fallback"})');
    }
    return true;
  }

  private fallbackLogged = false;

  /** Replays what came after the client's cursor; leaves the state syncing (live ones wait until `flush`). */
  private async resume(device: Device, state: FeedState, since: unknown): Promise<{ ready: FeedReady; readState: ReadStateView }> {
    const head = await this.store.readAfter(keysOf(device, state), 0, 0);
    if (since === undefined || since === null) {
      moveTo(state, head.epoch, head.head);
      return { ready: { cursor: cursorOf(head), recovered: true, replayed: 0 }, readState: head };
    }
    const sent = typeof since === 'string' ? since : null;
    // The start of the feed: the device saw it empty, so everything it holds now is new to the device.
    const position = since === FEED_START ? { epoch: head.epoch ?? '', seq: 0 } : parseCursor(since);
    if (position?.seq === 0 && head.epoch === null) {
      moveTo(state, null, 0);
      return { ready: { cursor: null, recovered: true, replayed: 0 }, readState: head };
    }
    if (position === undefined || (position.epoch === head.epoch && position.seq > head.head)) {
      // Not a cursor this feed issued: nothing can be said about what is missing, and nothing is replayed.
      moveTo(state, head.epoch, head.head);
      return {
        ready: { cursor: cursorOf(head), recovered: false, replayed: 0, gap: { reason: GapReasons.Malformed, after: null, before: null } },
        readState: head,
      };
    }
    if (position.epoch !== head.epoch) {
      // An earlier incarnation of the feed (lost, or expired while idle): everything retained now is new to the client.
      moveTo(state, head.epoch, 0);
      const replay = await this.replay(device, state);
      return {
        ready: { cursor: this.cursorOfState(state), recovered: false, replayed: replay.replayed, gap: { reason: GapReasons.Epoch, after: sent, before: replay.first } },
        readState: replay.last,
      };
    }
    moveTo(state, position.epoch, position.seq);
    const replay = await this.replay(device, state);
    const trimmed = replay.firstSeq === null ? head.head > position.seq : replay.firstSeq > position.seq + 1;
    const ready: FeedReady = { cursor: this.cursorOfState(state), recovered: !trimmed, replayed: replay.replayed };
    if (trimmed) ready.gap = { reason: GapReasons.Trimmed, after: sent, before: replay.first };
    return { ready, readState: replay.last };
  }

  /**
   * Writes everything after the state's position, page by page; follows the feed into a new epoch if it changed.
   * `last` is the last page read: its read state is valid at the position the replay ends on.
   */
  private async replay(device: Device, state: FeedState): Promise<{ replayed: number; first: string | null; firstSeq: number | null; last: FeedRange }> {
    let replayed = 0;
    let first: string | null = null;
    let firstSeq: number | null = null;
    for (;;) {
      const range = await this.store.readAfter(keysOf(device, state), state.seq, PAGE);
      if (range.epoch === null) return { replayed, first, firstSeq, last: range };
      if (range.epoch !== state.epoch) {
        moveTo(state, range.epoch, 0);
        continue;
      }
      for (const item of range.items) {
        if (item.seq <= state.seq) continue;
        if (gone(device.socket)) return { replayed, first, firstSeq, last: range };
        state.seq = item.seq;
        this.write(device, this.writer.encodeJson(ClientEvents.Notification, item.envelopeJson));
        if (firstSeq === null) {
          firstSeq = item.seq;
          first = formatCursor({ epoch: range.epoch, seq: item.seq });
        }
        replayed++;
      }
      if (range.items.length < PAGE) {
        this.metrics.replayed(state.feed, replayed);
        return { replayed, first, firstSeq, last: range };
      }
      // A long backlog goes out as fast as the client reads it, not faster: the next page waits for room.
      if (!(await this.outbound.waitForRoom(device.socket))) return { replayed, first, firstSeq, last: range };
    }
  }

  /**
   * A replay outside a (re)connect (a gap, a subscription restored): if the read state moved meanwhile, the socket is
   * told where it stands now, at the position the replay ended on.
   */
  private async catchUpFromStore(device: Device, state: FeedState): Promise<void> {
    const { last } = await this.replay(device, state);
    if (state.feed !== Feeds.User || last.version <= state.version || gone(device.socket)) return;
    state.version = last.version;
    device.socket.emit(ClientEvents.InboxUpdated, { ...readStateOf(state, last), cursor: this.cursorOfState(state) });
  }

  /** Lets the live notifications that waited through, catching up from the store whenever one is not the next. */
  private async flush(device: Device, state: FeedState): Promise<void> {
    // Live ones that arrive meanwhile are appended to the same list (the state is still syncing).
    const pending = state.pending ?? [];
    state.pending = pending;
    for (let index = 0; index < pending.length; index++) {
      const live = pending[index];
      let verdict = verdictOf(state, live);
      if (verdict === 'gap') {
        await this.catchUpFromStore(device, state);
        // The store has everything that was routed, so the replay reached it (now a skip), unless the feed moved to a
        // newer epoch meanwhile: then this one belongs to a feed that no longer exists.
        verdict = verdictOf(state, live);
      }
      if (verdict === 'write') this.writeLive(device, state, live);
    }
    state.pending = undefined;
    state.syncing = false;
  }

  /** A socket saw a gap: fill it from the store, then let the waiting live notifications through. */
  private async catchUp(device: Device, state: FeedState): Promise<void> {
    for (;;) {
      if (gone(device.socket)) return;
      try {
        await this.catchUpFromStore(device, state);
        await this.flush(device, state);
        return;
      } catch (error) {
        this.logger.warn({ userId: device.socket.data.userId, feed: state.feed, error: String(error) }, 'catch-up failed, retrying');
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
      }
    }
  }

  /** The route subscription was re-established: anything routed meanwhile never arrived, so every socket catches up. */
  private catchUpEveryone(): void {
    let sockets = 0;
    for (const socket of this.namespace.sockets.values()) {
      const device = this.devices.get(socket);
      if (device === undefined) continue;
      sockets++;
      for (const state of [device.user, device.broadcast]) {
        if (state.syncing) continue;
        state.syncing = true;
        void this.catchUp(device, state);
      }
    }
    this.logger.info({ sockets }, 'route subscriptions restored: catching up every socket from the store');
  }

  private cursorOfState(state: FeedState): string | null {
    return state.epoch === null || state.seq === 0 ? null : formatCursor({ epoch: state.epoch, seq: state.seq });
  }
}

/** Whether the socket disconnected: checked again after every await, whatever was known before it. */
const gone = (socket: { readonly connected: boolean }): boolean => !socket.connected;

const newState = (feed: Feed): FeedState => ({ feed, epoch: null, seq: 0, version: 0, syncing: true, pending: undefined });

/** Built when needed (connect, catch-up, disconnect) rather than kept: four strings per idle socket add up. */
const keysOf = (device: Device, state: FeedState): FeedKeys => (state.feed === Feeds.User ? userFeedKeys(device.socket.data.userId) : BROADCAST_FEED_KEYS);

function moveTo(state: FeedState, epoch: string | null, seq: number): void {
  state.epoch = epoch;
  state.seq = seq;
}

const cursorOf = (range: FeedRange): string | null => (range.epoch === null || range.head === 0 ? null : formatCursor({ epoch: range.epoch, seq: range.head }));

/**
 * Whether a live notification is the socket's next one (write), one it has (skip), or after one it misses (gap). A
 * read state is written when it is newer than what the socket was told and valid where the socket stands; one valid
 * at another position is a gap: the catch-up reads the read state where the socket then stands.
 */
function verdictOf(state: FeedState, live: Live): Verdict {
  const { epoch, seq } = live.message.position;
  if (live instanceof LiveReadState) {
    if (live.message.version <= state.version) return 'skip';
    return epoch === state.epoch && seq === state.seq ? 'write' : 'gap';
  }
  if (epoch !== state.epoch) return state.epoch === null && seq === 1 ? 'write' : 'gap';
  if (seq === state.seq + 1) return 'write';
  return seq <= state.seq ? 'skip' : 'gap';
}

/** What session.ready and inbox.updated say of the read state. */
function readStateOf(state: FeedState, view: ReadStateView): { unread: number; readUpTo: string | null } {
  return { unread: view.unread, readUpTo: view.readUpTo > 0 && state.epoch !== null ? formatCursor({ epoch: state.epoch, seq: view.readUpTo }) : null };
}
