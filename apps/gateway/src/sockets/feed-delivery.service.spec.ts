import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  BROADCAST_FEED_KEYS,
  ClientEvents,
  NOTIFICATIONS_NAMESPACE,
  formatCursor,
  userFeedKeys,
  userRoom,
  type FeedKeys,
  type NotificationEnvelope,
  type SessionReadyPayload,
} from '@herald/contracts';
import { HeraldMetrics } from '@herald/metrics';
import type { ShardedRouter } from '@herald/redis-io-adapter';
import type { PinoLogger } from 'nestjs-pino';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { waitUntil } from '../../../../test/support/wait.js';
import { InboxStore, type AppendResult, type FeedRange, type NewNotification } from '../inbox/inbox-store.js';
import { loadConfig } from '../config/app-config.js';
import { FeedDeliveryService } from './feed-delivery.service.js';
import { OutboundLimitService } from './outbound-limit.service.js';
import type { NotificationNamespace, NotificationServer, NotificationSocket } from './socket.types.js';

/** The store's contract in memory: dense sequences per feed, an epoch, trimming; every append is routed unless muted. */
class MemoryStore extends InboxStore {
  readonly feeds = new Map<string, { epoch: string; entries: Array<{ seq: number; json: string }>; head: number }>();
  /** While true, appends are stored but not routed: a route subscription that was down. */
  muted = false;
  reads = 0;

  constructor(private readonly router: FakeRouter) {
    super();
  }

  async append(feed: FeedKeys, notification: NewNotification): Promise<AppendResult> {
    const state = this.feeds.get(feed.log) ?? { epoch: 'ep1', entries: [], head: 0 };
    this.feeds.set(feed.log, state);
    const seq = ++state.head;
    const cursor = formatCursor({ epoch: state.epoch, seq });
    const json = `${notification.envelopePrefix},"cursor":"${cursor}"}`;
    state.entries.push({ seq, json });
    if (!this.muted) this.router.publish(feed.route, `${cursor} ${notification.pattern} ${notification.createdAtMs} ${json}`);
    return { stored: true, position: { epoch: state.epoch, seq } };
  }

  async readAfter(feed: FeedKeys, afterSeq: number, limit: number): Promise<FeedRange> {
    this.reads++;
    const state = this.feeds.get(feed.log);
    if (state === undefined) return { epoch: null, head: 0, items: [], firstRetained: null, unread: 0, readUpTo: 0, version: 0 };
    const items = state.entries.filter(({ seq }) => seq > afterSeq).slice(0, limit);
    return {
      epoch: state.epoch,
      head: state.head,
      items: items.map(({ seq, json }) => ({ seq, envelopeJson: json })),
      firstRetained: state.entries[0]?.seq ?? null,
      unread: state.entries.length,
      readUpTo: 0,
      version: 0,
    };
  }

  trimTo(feed: FeedKeys, keep: number): void {
    const state = this.feeds.get(feed.log);
    if (state) state.entries = state.entries.slice(-keep);
  }

  /** The feed is lost and starts again (a Redis without persistence restarted). */
  recreate(feed: FeedKeys, epoch: string): void {
    this.feeds.set(feed.log, { epoch, entries: [], head: 0 });
  }
}

/** Subscriptions as the real router keeps them, delivering synchronously to the subscribed channels only. */
class FakeRouter {
  readonly refs = new Map<string, number>();
  private listener: (channel: string, message: string) => void = () => undefined;
  private resubscribed: () => void = () => undefined;

  async join(channel: string): Promise<void> {
    this.refs.set(channel, (this.refs.get(channel) ?? 0) + 1);
  }
  leave(channel: string): void {
    const refs = (this.refs.get(channel) ?? 0) - 1;
    if (refs > 0) this.refs.set(channel, refs);
    else this.refs.delete(channel);
  }
  onMessage(listener: (channel: string, message: string) => void): void {
    this.listener = listener;
  }
  onResubscribed(listener: () => void): void {
    this.resubscribed = listener;
  }
  publish(channel: string, message: string): void {
    if (this.refs.has(channel)) this.listener(channel, message);
  }
  reconnected(): void {
    this.resubscribed();
  }
}

interface Device {
  client: ClientSocket;
  received: NotificationEnvelope[];
  ready: SessionReadyPayload[];
}

describe('FeedDeliveryService', () => {
  let http: HttpServer;
  let io: NotificationServer;
  let namespace: NotificationNamespace;
  let router: FakeRouter;
  let store: MemoryStore;
  let delivery: FeedDeliveryService;
  let metrics: HeraldMetrics;
  const clients: ClientSocket[] = [];
  let sequence = 0;

  const notify = async (userId: string, n: number): Promise<void> => {
    const id = `n${++sequence}`;
    await store.append(userFeedKeys(userId), {
      id,
      envelopePrefix: JSON.stringify({ id, type: 't', data: n, createdAt: new Date(0).toISOString() }).slice(0, -1),
      pattern: 'notify.user',
      createdAtMs: Date.now(),
    });
  };

  const device = async (userId: string, auth: Record<string, unknown> = {}): Promise<Device> => {
    const { port } = http.address() as AddressInfo;
    const client = connect(`http://127.0.0.1:${port}${NOTIFICATIONS_NAMESPACE}`, {
      transports: ['websocket'],
      auth: { user: userId, ...auth },
      reconnection: false,
      forceNew: true,
    });
    clients.push(client);
    const received: NotificationEnvelope[] = [];
    const ready: SessionReadyPayload[] = [];
    client.on(ClientEvents.Notification, (envelope: NotificationEnvelope) => received.push(envelope));
    client.on(ClientEvents.SessionReady, (payload: SessionReadyPayload) => ready.push(payload));
    await waitUntil(() => ready.length === 1, `session.ready for ${userId}`, 5000, 5);
    return { client, received, ready };
  };

  const data = (d: Device): unknown[] => d.received.map((envelope) => envelope.data);

  before(async () => {
    http = createServer();
    io = new Server(http);
    namespace = io.of(NOTIFICATIONS_NAMESPACE);
    router = new FakeRouter();
    store = new MemoryStore(router);
    metrics = new HeraldMetrics({ instanceId: 'unit', defaultMetrics: false });
    const logger = { warn: () => undefined, info: () => undefined, error: () => undefined } as unknown as PinoLogger;
    const outbound = new OutboundLimitService(loadConfig({ JWT_SECRET: 'unit-test-secret-0123456789' }), metrics, logger);
    delivery = new FeedDeliveryService(store, router as unknown as ShardedRouter, metrics, logger, outbound);
    await delivery.bind(namespace);
    namespace.on('connection', (socket: NotificationSocket) => {
      const auth = socket.handshake.auth as Record<string, unknown>;
      socket.data.userId = String(auth['user']);
      void socket.join(userRoom(socket.data.userId));
      socket.on('disconnect', () => delivery.detach(socket));
      void delivery.attach(socket, { since: auth['since'], broadcastSince: auth['broadcastSince'] });
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    for (const client of clients) client.close();
    await io.close();
  });

  it('without since: replays nothing, reports the head, then delivers live notifications in order', async () => {
    await notify('ann', 1);
    const ann = await device('ann');
    assert.deepEqual(ann.ready[0], {
      cursor: 'ep1.1',
      recovered: true,
      replayed: 0,
      unread: 1,
      readUpTo: null,
      broadcast: { cursor: null, recovered: true, replayed: 0 },
    });
    await notify('ann', 2);
    await notify('ann', 3);
    await waitUntil(() => ann.received.length === 2, 'two live', 5000, 5);
    assert.deepEqual(data(ann), [2, 3]);
    assert.deepEqual(
      ann.received.map((envelope) => envelope.cursor),
      ['ep1.2', 'ep1.3'],
    );
  });

  it('with since: replays what came after it, in order, before session.ready, then goes live', async () => {
    for (let n = 1; n <= 5; n++) await notify('bob', n);
    const bob = await device('bob', { since: 'ep1.2' });
    assert.deepEqual(data(bob), [3, 4, 5]);
    assert.deepEqual(bob.ready[0], {
      cursor: 'ep1.5',
      recovered: true,
      replayed: 3,
      unread: 5,
      readUpTo: null,
      broadcast: { cursor: null, recovered: true, replayed: 0 },
    });
    await notify('bob', 6);
    await waitUntil(() => bob.received.length === 4, 'live after replay', 5000, 5);
    assert.deepEqual(data(bob), [3, 4, 5, 6]);
  });

  it('a notification routed while the replay runs arrives once, after the replayed ones', async () => {
    for (let n = 1; n <= 250; n++) await notify('cy', n);
    // Publish while the replay pages through the store: the first reads have happened, the socket is still syncing.
    const readsBefore = store.reads;
    const connecting = device('cy', { since: 'ep1.10' });
    await waitUntil(() => store.reads > readsBefore + 1, 'the replay started', 5000, 1);
    await notify('cy', 251);
    await notify('cy', 252);
    const cy = await connecting;
    await waitUntil(() => cy.received.length === 242, 'replayed and live', 5000, 5);
    assert.deepEqual(
      data(cy),
      Array.from({ length: 242 }, (_, index) => index + 11),
    );
  });

  it('a live notification with a jump in the sequence (missed while unsubscribed) makes the socket catch up first', async () => {
    const dee = await device('dee');
    await notify('dee', 1);
    store.muted = true;
    await notify('dee', 2);
    await notify('dee', 3);
    store.muted = false;
    await notify('dee', 4);
    await waitUntil(() => dee.received.length === 4, 'caught up', 5000, 5);
    assert.deepEqual(data(dee), [1, 2, 3, 4]);
  });

  it('after the route subscription is restored, every socket catches up even if nothing else is published', async () => {
    const eve = await device('eve');
    store.muted = true;
    await notify('eve', 1);
    store.muted = false;
    assert.equal(eve.received.length, 0);
    router.reconnected();
    await waitUntil(() => eve.received.length === 1, 'caught up after resubscribe', 5000, 5);
    assert.deepEqual(data(eve), [1]);
  });

  it('a duplicate routed notification is not written twice', async () => {
    const flo = await device('flo');
    await notify('flo', 1);
    const [only] = store.feeds.get(userFeedKeys('flo').log)?.entries ?? [];
    assert.ok(only);
    router.publish(userFeedKeys('flo').route, `ep1.1 notify.user 0 ${only.json}`);
    await notify('flo', 2);
    await waitUntil(() => flo.received.length === 2, 'two', 5000, 5);
    assert.deepEqual(data(flo), [1, 2]);
  });

  it('a since older than retention: recovered false, the gap named, what is retained replayed', async () => {
    for (let n = 1; n <= 10; n++) await notify('gus', n);
    store.trimTo(userFeedKeys('gus'), 4);
    const gus = await device('gus', { since: 'ep1.2' });
    assert.deepEqual(data(gus), [7, 8, 9, 10]);
    assert.deepEqual(gus.ready[0]?.gap, { reason: 'trimmed', after: 'ep1.2', before: 'ep1.7' });
    assert.equal(gus.ready[0]?.recovered, false);
  });

  it('a malformed since, or one beyond the head: nothing replayed, recovered false, connection kept', async () => {
    await notify('hal', 1);
    for (const since of ['garbage', 42, 'ep1.99']) {
      const hal = await device('hal', { since });
      assert.deepEqual(hal.received, []);
      assert.deepEqual(hal.ready[0], {
        cursor: 'ep1.1',
        recovered: false,
        replayed: 0,
        gap: { reason: 'malformed', after: null, before: null },
        unread: 1,
        readUpTo: null,
        broadcast: { cursor: null, recovered: true, replayed: 0 },
      });
      assert.equal(hal.client.connected, true);
    }
  });

  it('a since from another epoch (the feed was lost): recovered false, the current feed replayed whole', async () => {
    await notify('ida', 1);
    store.recreate(userFeedKeys('ida'), 'ep2');
    await notify('ida', 2);
    const ida = await device('ida', { since: 'ep1.1' });
    assert.deepEqual(data(ida), [2]);
    assert.deepEqual(ida.ready[0]?.gap, { reason: 'epoch', after: 'ep1.1', before: 'ep2.1' });
  });

  it('a live feed that is lost and recreated: the socket follows it into the new epoch', async () => {
    const jo = await device('jo');
    await notify('jo', 1);
    store.recreate(userFeedKeys('jo'), 'ep3');
    await notify('jo', 2);
    await notify('jo', 3);
    await waitUntil(() => jo.received.length === 3, 'followed', 5000, 5);
    assert.deepEqual(data(jo), [1, 2, 3]);
  });

  it("never writes another user's notifications, and subscribes a user's route only while a socket holds it", async () => {
    const kim = await device('kim');
    await notify('lee', 1);
    assert.equal(router.refs.get(userFeedKeys('kim').route), 1);
    assert.equal(router.refs.has(userFeedKeys('lee').route), false);
    kim.client.close();
    await waitUntil(() => !router.refs.has(userFeedKeys('kim').route), 'the route left', 5000, 5);
    assert.deepEqual(kim.received, []);
  });

  it('broadcasts reach every socket, resume from broadcastSince, and keep their own cursor', async () => {
    const before = await device('mia');
    await store.append(BROADCAST_FEED_KEYS, {
      id: 'b1',
      envelopePrefix: '{"id":"b1","type":"b","data":1,"createdAt":"1970-01-01T00:00:00.000Z","feed":"broadcast"',
      pattern: 'notify.broadcast',
      createdAtMs: 0,
    });
    await waitUntil(() => before.received.length === 1, 'live broadcast', 5000, 5);
    assert.equal(before.received[0]?.feed, 'broadcast');
    const cursor = before.received[0].cursor;
    await store.append(BROADCAST_FEED_KEYS, {
      id: 'b2',
      envelopePrefix: '{"id":"b2","type":"b","data":2,"createdAt":"1970-01-01T00:00:00.000Z","feed":"broadcast"',
      pattern: 'notify.broadcast',
      createdAtMs: 0,
    });
    const resumed = await device('ned', { broadcastSince: cursor });
    assert.deepEqual(data(resumed), [2]);
    assert.deepEqual(resumed.ready[0]?.broadcast, { cursor: resumed.received[0].cursor, recovered: true, replayed: 1 });
  });
});
