import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { ClientRequests, FEED_START, RequestErrorCodes, SessionEndReasons, type HandshakeAuth, type NotificationEnvelope } from '@herald/contracts';
import { waitUntil } from '../../../test/support/wait.js';
import { MemoryCursorStorage } from './cursor-storage.js';
import {
  ClientErrorCodes,
  ConnectionStates,
  HeraldClient,
  HeraldConnectionError,
  HeraldRequestError,
  type ConnectionState,
  type HeraldClientOptions,
  type InboxUpdate,
} from './herald-client.js';
import { FakeHerald, envelope } from './testing/fake-herald.server.js';

/** An unsigned JWT-shaped token for `sub` (the fake server does not verify; the client only reads `sub`). */
const tokenFor = (sub: string, tag = ''): string => `e30.${Buffer.from(JSON.stringify({ sub, tag })).toString('base64url')}.x`;

/** A client and everything it emitted. */
class Recorder {
  readonly notifications: NotificationEnvelope[] = [];
  readonly unread: number[] = [];
  readonly states: ConnectionState[] = [];
  readonly updates: InboxUpdate[] = [];
  readonly errors: Error[] = [];
  readies = 0;

  constructor(readonly client: HeraldClient) {
    client.on('notification', (n) => this.notifications.push(n));
    client.on('unread', (count) => this.unread.push(count));
    client.on('state', (state) => this.states.push(state));
    client.on('updated', (update) => this.updates.push(update));
    client.on('error', (error) => this.errors.push(error));
    client.on('ready', () => this.readies++);
  }
}

describe('HeraldClient against a scripted server', () => {
  let fake: FakeHerald;
  const clients: HeraldClient[] = [];

  const start = async (options: Partial<HeraldClientOptions> = {}, readies = 1): Promise<Recorder> => {
    const client = new HeraldClient({
      url: fake.url,
      token: tokenFor('u1'),
      socket: { transports: ['websocket'], reconnectionDelay: 50, reconnectionDelayMax: 100 },
      ...options,
    });
    clients.push(client);
    const recorder = new Recorder(client);
    await waitUntil(() => recorder.readies >= readies, 'session.ready');
    return recorder;
  };

  before(async () => {
    fake = await FakeHerald.start();
  });

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((client) => client.close()));
    fake.handshakes.length = 0;
    fake.acks.length = 0;
    fake.requests.length = 0;
    fake.replies.clear();
    fake.refuseWith = undefined;
    fake.onConnection = (socket) => fake.ready(socket);
  });

  after(async () => {
    await fake.close();
  });

  it('resumes every reconnect from the last processed cursor, and a new client from the stored one', async () => {
    const storage = new MemoryCursorStorage();
    const { client } = await start({ storage });
    assert.deepEqual(fake.handshakes, [{ token: tokenFor('u1') }]);
    fake.notify(envelope(1));
    fake.notify(envelope(2));
    fake.notify(envelope(7, { feed: 'broadcast' }));
    await waitUntil(() => client.cursor === 'e1.2' && storage.get('u1:broadcastSince') === 'e1.7', 'the cursors');

    fake.dropTransport();
    await waitUntil(() => fake.handshakes.length === 2 && client.state === ConnectionStates.Connected, 'the reconnect');
    assert.deepEqual(fake.handshakes[1], { token: tokenFor('u1'), since: 'e1.2', broadcastSince: 'e1.7' });
    await client.close();

    // A reloaded app: a new client, the same storage, keyed by the token's user.
    assert.equal(storage.get('u1:since'), 'e1.2');
    await start({ storage });
    assert.deepEqual(fake.handshakes[2], { token: tokenFor('u1'), since: 'e1.2', broadcastSince: 'e1.7' });
    // Another user on the same storage starts fresh.
    await start({ storage, token: tokenFor('u2') });
    assert.deepEqual(fake.handshakes[3], { token: tokenFor('u2') });
  });

  it('takes the cursor of session.ready when it got nothing yet, so the next connect resumes from there', async () => {
    fake.onConnection = (socket) => fake.ready(socket, { cursor: 'e1.40', unread: 3 });
    const { client } = await start();
    assert.equal(client.cursor, 'e1.40');
    fake.dropTransport();
    await waitUntil(() => fake.handshakes.length === 2, 'the reconnect');
    assert.equal(fake.handshakes[1]?.since, 'e1.40');
  });

  it('drops a second copy of a notification id, on the same connection or after a reconnect', async () => {
    const recorder = await start();
    fake.notify(envelope(1));
    fake.notify(envelope(1));
    fake.notify(envelope(2, { id: 'n1' }));
    fake.notify(envelope(3));
    await waitUntil(() => recorder.client.cursor === 'e1.3', 'the third notification');
    fake.dropTransport();
    await waitUntil(() => recorder.readies === 2, 'the reconnect');
    fake.notify(envelope(3));
    fake.notify(envelope(4));
    await waitUntil(() => recorder.client.cursor === 'e1.4', 'the fourth notification');
    assert.deepEqual(
      recorder.notifications.map((n) => n.id),
      ['n1', 'n3', 'n4'],
    );
    // Broadcast ids are their own namespace.
    fake.notify(envelope(1, { feed: 'broadcast' }));
    await waitUntil(() => recorder.notifications.length === 4, 'the broadcast');
  });

  it('keeps the badge from events: ready sets it, a new notification adds one, inbox.updated sets it and marks read', async () => {
    // Two replayed before session.ready: already in its count.
    fake.onConnection = (socket) => {
      fake.notify(envelope(4), socket);
      fake.notify(envelope(5), socket);
      fake.ready(socket, { cursor: 'e1.5', unread: 3, readUpTo: 'e1.2', replayed: 2 });
    };
    const recorder = await start();
    const { client } = recorder;
    assert.equal(client.unread, 3);
    assert.equal(client.readUpTo, 'e1.2');
    assert.deepEqual(recorder.unread, [3]);

    fake.notify(envelope(6));
    fake.notify(envelope(6));
    fake.notify(envelope(7, { feed: 'broadcast' }));
    await waitUntil(() => recorder.notifications.length === 4, 'the live notifications');
    assert.equal(client.unread, 4, 'one new user notification (the duplicate and the broadcast do not count)');

    fake.updated({ unread: 3, readUpTo: 'e1.2', cursor: 'e1.6', ids: ['n5'] });
    await waitUntil(() => recorder.updates.length === 1, 'inbox.updated');
    assert.equal(client.unread, 3);
    assert.deepEqual(recorder.updates[0]?.read, ['n5']);
    assert.equal(client.isRead('n5'), true);
    assert.equal(client.isRead('n4'), false);

    fake.updated({ unread: 1, readUpTo: 'e1.4', cursor: 'e1.6' });
    await waitUntil(() => recorder.updates.length === 2, 'the second inbox.updated');
    assert.deepEqual(recorder.updates[1]?.read, ['n4']);
    assert.equal(client.isRead('n6'), false);
    assert.equal(client.isRead('unknown'), undefined);
    assert.deepEqual(recorder.unread, [3, 4, 3, 1]);

    // A reconnect's session.ready is the new truth.
    fake.onConnection = (socket) => fake.ready(socket, { cursor: 'e1.6', unread: 0, readUpTo: 'e1.6' });
    fake.dropTransport();
    await waitUntil(() => recorder.readies === 2, 'the reconnect');
    assert.equal(client.unread, 0);
    assert.equal(client.isRead('n6'), true);
  });

  it('acknowledges the highest processed user-feed cursor, batched, and once more on close', async () => {
    const { client } = await start({ ackIntervalMs: 150 });
    for (let seq = 1; seq <= 20; seq++) fake.notify(envelope(seq));
    fake.notify(envelope(99, { feed: 'broadcast' }));
    await waitUntil(() => fake.acks.at(-1)?.cursor === 'e1.20', 'the ack of the burst');
    // Twenty notifications, one or two packets (a burst can straddle one interval), never a packet each.
    assert.ok(fake.acks.length <= 2, `acks for one burst: ${JSON.stringify(fake.acks)}`);
    const afterBurst = fake.acks.length;

    for (let seq = 21; seq <= 30; seq++) fake.notify(envelope(seq));
    await waitUntil(() => fake.acks.at(-1)?.cursor === 'e1.30', 'the ack of the second burst');
    const gaps = fake.acks.slice(1).map((ack, index) => ack.at - (fake.acks[index]?.at ?? 0));
    assert.ok(
      gaps.every((gap) => gap >= 140),
      `acks closer than the interval: ${gaps.join(', ')} ms`,
    );

    // Nothing moved: nothing is sent. A last one rides on close.
    const before = fake.acks.length;
    fake.notify(envelope(31));
    await waitUntil(() => client.cursor === 'e1.31', 'notification 31');
    await client.close();
    await waitUntil(() => fake.acks.at(-1)?.cursor === 'e1.31', 'the ack sent on close');
    assert.equal(fake.acks.length, before + 1);
    assert.ok(afterBurst >= 1);
    assert.deepEqual(
      fake.acks.map((ack) => ack.cursor).filter((cursor) => !cursor.startsWith('e1.')),
      [],
      'broadcast cursors are not acknowledged',
    );
  });

  it('pages the inbox and merges read flags it learned from events', async () => {
    fake.onConnection = (socket) => fake.ready(socket, { cursor: 'e1.3', unread: 2, readUpTo: 'e1.1' });
    const { client } = await start();
    fake.replies.set(ClientRequests.InboxList, () => ({
      items: [
        { ...envelope(3), read: false },
        { ...envelope(2), read: true },
        { ...envelope(1), read: false },
      ],
      next: 'e1.1',
    }));
    const page = await client.list({ before: 'e1.4', limit: 3 });
    assert.deepEqual(fake.requests.at(-1), { event: ClientRequests.InboxList, payload: { before: 'e1.4', limit: 3 } });
    assert.deepEqual(
      page.items.map((item) => [item.id, item.read]),
      [
        ['n3', false],
        ['n2', true],
        ['n1', true],
      ],
      'n1 is at or before readUpTo',
    );
    assert.equal(page.next, 'e1.1');
    await client.list();
    assert.deepEqual(fake.requests.at(-1)?.payload, {});
  });

  it('marks read, and marks all read up to what the device has shown (not what the server has)', async () => {
    fake.onConnection = (socket) => fake.ready(socket, { cursor: 'e1.3', unread: 3 });
    const { client } = await start();
    fake.replies.set(ClientRequests.InboxRead, () => ({ unread: 2, readUpTo: null }));
    fake.replies.set(ClientRequests.InboxReadAll, () => ({ unread: 0, readUpTo: 'e1.4' }));
    assert.deepEqual(await client.markRead(['n2']), { unread: 2, readUpTo: null });
    assert.deepEqual(fake.requests.at(-1), { event: ClientRequests.InboxRead, payload: { ids: ['n2'] } });
    // Replies do not move the badge: the inbox.updated event does.
    assert.equal(client.unread, 3);

    await client.markAllRead();
    assert.deepEqual(fake.requests.at(-1), { event: ClientRequests.InboxReadAll, payload: { upTo: 'e1.3' } });
    fake.notify(envelope(4));
    await waitUntil(() => client.cursor === 'e1.4', 'notification 4');
    await client.markAllRead();
    assert.deepEqual(fake.requests.at(-1)?.payload, { upTo: 'e1.4' });
    await client.markAllRead('e1.2');
    assert.deepEqual(fake.requests.at(-1)?.payload, { upTo: 'e1.2' });
  });

  it('rejects a refused request with its code, and an unanswered one with timeout', async () => {
    const { client } = await start({ requestTimeoutMs: 200 });
    fake.replies.set(ClientRequests.InboxRead, () => ({ error: { code: RequestErrorCodes.InvalidRequest, message: 'ids: too big' } }));
    await assert.rejects(client.markRead(['x']), (error: unknown) => {
      assert.ok(error instanceof HeraldRequestError);
      assert.equal(error.code, RequestErrorCodes.InvalidRequest);
      assert.match(error.message, /ids: too big/);
      return true;
    });
    fake.replies.set(ClientRequests.InboxList, () => ({ error: { code: RequestErrorCodes.StaleCursor, message: 'stale' } }));
    await assert.rejects(client.list({ before: 'old.1' }), { name: 'HeraldRequestError', code: RequestErrorCodes.StaleCursor });
    // No replier: no answer.
    fake.replies.clear();
    await assert.rejects(client.list(), { name: 'HeraldRequestError', code: ClientErrorCodes.Timeout });
    await client.close();
    await assert.rejects(client.list(), { name: 'HeraldRequestError', code: ClientErrorCodes.Closed });
  });

  it('asks the token function again on each connect, and reconnects with a fresh token after token_expired', async () => {
    let issued = 0;
    const recorder = await start({ token: async () => tokenFor('u1', String(++issued)) });
    assert.equal(fake.handshakes[0]?.token, tokenFor('u1', '1'));
    fake.notify(envelope(1));
    await waitUntil(() => recorder.client.cursor === 'e1.1', 'notification 1');
    fake.endSession({ reason: SessionEndReasons.TokenExpired, reconnect: false });
    await waitUntil(() => recorder.readies === 2, 'the reconnect with a new token');
    assert.deepEqual(fake.handshakes[1], { token: tokenFor('u1', '2'), since: 'e1.1', broadcastSince: FEED_START } satisfies HandshakeAuth);
    assert.deepEqual(recorder.states, [ConnectionStates.Connected, ConnectionStates.Disconnected, ConnectionStates.Connecting, ConnectionStates.Connected]);

    fake.replies.set(ClientRequests.SessionRefresh, () => ({ exp: 123 }));
    assert.deepEqual(await recorder.client.refreshToken(), { exp: 123 });
    assert.deepEqual(fake.requests.at(-1)?.payload, { token: tokenFor('u1', '3') });
  });

  it('ends, with an error that says why, when the server refuses the token', async () => {
    fake.refuseWith = 'invalid_token';
    const client = new HeraldClient({ url: fake.url, token: 'not-a-jwt', socket: { transports: ['websocket'] } });
    clients.push(client);
    const recorder = new Recorder(client);
    await waitUntil(() => client.state === ConnectionStates.Ended, 'the end');
    assert.ok(recorder.errors[0] instanceof HeraldConnectionError);
    assert.equal(recorder.errors[0].reason, 'invalid_token');
    // (`connecting` was emitted by the constructor, before any listener.)
    assert.deepEqual(recorder.states, [ConnectionStates.Ended]);
  });

  it('retries a handshake refused while the instance drains', async () => {
    fake.refuseWith = 'shutting_down';
    const client = new HeraldClient({ url: fake.url, token: tokenFor('u1'), socket: { transports: ['websocket'] } });
    clients.push(client);
    const recorder = new Recorder(client);
    await waitUntil(() => fake.handshakes.length === 1, 'the refused handshake');
    fake.refuseWith = undefined;
    await waitUntil(() => recorder.readies === 1, 'the retried connect', 5000);
    assert.equal(recorder.errors.length, 0);
  });

  it('keeps delivering when a listener throws, and reports the error', async () => {
    const recorder = await start();
    recorder.client.on('notification', () => {
      throw new Error('app bug');
    });
    fake.notify(envelope(1));
    fake.notify(envelope(2));
    await waitUntil(() => recorder.notifications.length === 2, 'both notifications');
    assert.deepEqual(
      recorder.errors.map((error) => error.message),
      ['app bug', 'app bug'],
    );
  });
});
