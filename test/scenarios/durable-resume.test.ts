import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { SessionEndReasons } from '@herald/contracts';
import { HeraldPublisher } from '@herald/publisher';
import {
  cleanUp,
  DeliveryLedger,
  describeLoad,
  diagnoseLines,
  HeraldRedis,
  present,
  publishSteadily,
  ResumingDevice,
  waitUntil,
  type Topology,
  startDurable,
  deviceConnector,
} from '@herald/testing';

/**
 * Resume: a device that was away (offline, its transport cut, mid-replay) gets, on its next connect with `since`,
 * everything stored after its cursor, in feed order, once, and then the live ones, with nothing lost in between.
 */
describe('durable: resume with since (2 instances)', () => {
  let topology: Topology;
  let sdk: HeraldPublisher;
  let redis: HeraldRedis;
  const devices: ResumingDevice[] = [];

  const connect = deviceConnector(() => topology, devices);

  /** The reference order of every ledger user: their feed, as stored. */
  const feedOrder = async (ledger: DeliveryLedger): Promise<Map<string, string[]>> =>
    new Map(await Promise.all(ledger.users.map(async (user) => [user, await redis.feedIds(user)] as const)));

  /** Waits (bounded) until every tracked device got all it must, then asserts the ledger is clean, with the table. */
  const assertLedgerClean = async (ledger: DeliveryLedger, what: string, t: { diagnostic(message: string): void }, timeoutMs = 20_000): Promise<void> => {
    await waitUntil(() => ledger.complete(), `${what}: every device to receive everything accepted`, timeoutMs).catch(() => undefined);
    const rows = ledger.rows(await feedOrder(ledger));
    diagnoseLines(t, `${what}\n${DeliveryLedger.table(rows)}`);
    DeliveryLedger.assertClean(rows, what);
  };

  before(async () => {
    ({ topology, sdk, redis } = await startDurable({ gateways: 2 }));
  });

  after(async () => {
    await cleanUp(...devices, sdk, redis, topology);
  });

  it('offline while notified: on its next connect it gets everything after its cursor, in order, once, then live ones', async () => {
    const device = await connect('rs-away', 0);
    for (let seq = 1; seq <= 3; seq++) await sdk.notifyUser({ userId: 'rs-away', id: `rs-away-${seq}`, type: 'n', data: { seq } });
    await device.waitForType('n', 3);
    const cursorBefore = device.cursor;
    assert.equal(cursorBefore, device.notifications[2].cursor, 'the device keeps the cursor of the last notification it processed');

    device.goOffline();
    for (let seq = 4; seq <= 23; seq++) await sdk.notifyUser({ userId: 'rs-away', id: `rs-away-${seq}`, type: 'n', data: { seq } });
    await waitUntil(() => redis.commandsSettled(), 'the 20 commands to be stored');
    assert.equal(device.notifications.length, 3, 'nothing arrives while offline');

    const ready = await device.comeBack();
    assert.equal(device.handshakes.at(-1)?.since, cursorBefore, 'the reconnect sent the last processed cursor');
    // Feed order (the order the instances stored them in; sequential publishes are not promised to keep theirs).
    assert.deepEqual(
      device.notifications.map((envelope) => envelope.id),
      await redis.feedIds('rs-away'),
    );
    assert.deepEqual(
      device.notifications.map((envelope) => (envelope.data as { seq: number }).seq).sort((a, b) => a - b),
      Array.from({ length: 23 }, (_, index) => index + 1),
    );
    assert.deepEqual(
      { recovered: ready.recovered, replayed: ready.replayed, cursor: ready.cursor },
      { recovered: true, replayed: 20, cursor: device.notifications[22].cursor },
    );
    assert.deepEqual(device.connectionViolations(), []);

    await sdk.notifyUser({ userId: 'rs-away', id: 'rs-away-24', type: 'n', data: { seq: 24 } });
    await device.waitForType('n', 24);
    assert.equal(device.ofType('n').length, 24, 'and live ones after, once');
  });

  it('the transport cut three times while notifications stream in: each reconnect resumes with since; nothing lost, nothing twice', async (t) => {
    const ledger = new DeliveryLedger();
    const mobile = await connect('rs-drop', 0);
    const steady = await connect('rs-drop', 1);
    ledger.track(mobile);
    ledger.track(steady);
    const total = 300;
    const drops: number[] = [];
    // Cut the transport each time another quarter has arrived, while the load keeps publishing.
    const cutter = (async () => {
      for (const quarter of [1, 2, 3]) {
        await waitUntil(() => mobile.ofType('drop').length >= (quarter * total) / 4, `quarter ${quarter} to arrive`, 20_000);
        await waitUntil(() => mobile.connected, 'the mobile to be connected again', 20_000);
        drops.push(mobile.ofType('drop').length);
        mobile.dropTransport();
      }
    })();
    const load = await publishSteadily(sdk, { users: ['rs-drop'], count: total, ratePerSecond: 150, maxDurationMs: 10_000, type: 'drop', ledger });
    await cutter;
    t.diagnostic(`${describeLoad(load)}; transport cut after ${drops.join(', ')} received`);
    assert.equal(load.accepted, total);

    await assertLedgerClean(ledger, 'transport cuts', t);
    assert.ok(mobile.connections >= 4, `${mobile.connections} connections: the cuts happened and each one reconnected`);
    assert.ok(
      mobile.readies.slice(1).every((ready) => ready.recovered),
      'every resume was complete',
    );
    assert.deepEqual(mobile.connectionViolations(), []);
    assert.deepEqual(steady.connectionViolations(), []);
  });

  it('a token that expires while notifications stream in: the device reconnects with a fresh one and since; nothing lost, nothing twice', async (t) => {
    const ledger = new DeliveryLedger();
    // 2-second tokens: the server ends the session (token_expired) every second or two; like an app, the device signs
    // a fresh token for each handshake and reconnects with its cursor.
    const device = await connect('rs-expiry', 0, undefined, { tokenTtlSeconds: 2 });
    ledger.track(device);
    const load = await publishSteadily(sdk, { users: ['rs-expiry'], count: 600, ratePerSecond: 100, maxDurationMs: 10_000, type: 'expiry', ledger });
    t.diagnostic(describeLoad(load));
    assert.equal(load.accepted, 600);

    await assertLedgerClean(ledger, 'token expiries', t);
    const expiries = device.sessionEnds.filter((end) => end.reason === SessionEndReasons.TokenExpired).length;
    t.diagnostic(`${expiries} sessions ended on token expiry, ${device.connections} connections`);
    assert.ok(expiries >= 2, `${expiries} session(s) ended on token expiry in 6 s of 2-second tokens`);
    assert.ok(device.connections > expiries, 'a reconnect followed every expiry');
    assert.ok(
      device.readies.slice(1).every((ready) => ready.recovered),
      'every resume was complete',
    );
    assert.deepEqual(device.connectionViolations(), []);
  });

  // 15 s: the absence the issue names, well beyond socket.io's own reconnection attempts (the device closed its socket).
  it('offline for 15 s under a steady trickle: back with since, it gets everything, in order, once', async (t) => {
    const ledger = new DeliveryLedger();
    const users = ['rs-trickle-a', 'rs-trickle-b'];
    const away = await connect('rs-trickle-a', 0);
    const stayed = await connect('rs-trickle-a', 1);
    const other = await connect('rs-trickle-b', 0);
    for (const device of [away, stayed, other]) ledger.track(device);

    let backAt = 0;
    const trip = (async () => {
      await waitUntil(() => away.ofType('trickle').length >= 10, 'the trickle to reach the device', 10_000);
      away.goOffline();
      // The scenario itself: 15 s of absence while the trickle goes on (not a wait for some condition).
      await delay(15_000);
      const missed = ledger.accepted('rs-trickle-a').length - away.ofType('trickle').length;
      await away.comeBack();
      backAt = ledger.accepted('rs-trickle-a').length;
      return missed;
    })();
    const load = await publishSteadily(sdk, { users, count: 760, ratePerSecond: 40, maxDurationMs: 21_000, type: 'trickle', ledger });
    const missed = await trip;
    t.diagnostic(`${describeLoad(load)}; the device missed ${missed} while offline and came back after ${backAt}`);
    assert.ok(missed >= 200, `only ${missed} published while offline: the scenario did not happen`);
    assert.ok(backAt < ledger.accepted('rs-trickle-a').length, 'the trickle went on after the device came back');

    await assertLedgerClean(ledger, 'offline under a trickle', t);
    const resumed = away.readies[1];
    assert.equal(resumed.recovered, true);
    assert.ok(resumed.replayed >= missed, `replayed ${resumed.replayed}, missed ${missed}`);
    assert.deepEqual(away.connectionViolations(), []);
  });

  it('published while its replay runs: every notification once, the replayed ones before session.ready, the rest after', async (t) => {
    const user = 'rs-race';
    const ledger = new DeliveryLedger();
    const first = await connect(user, 0);
    await sdk.notifyUser({ userId: user, id: 'rs-race-first', type: 'first', data: null });
    await first.waitForType('first');
    const since = present(first.cursor, 'the cursor of the first notification');
    first.close();

    // A backlog to replay... (with the stream and the first, at most 951: inside the inbox's default length cap of
    // 1,000, so the feed still holds everything after since when the device's copy is compared with it)
    const backlog = await publishSteadily(sdk, { users: [user], count: 300, ratePerSecond: 4000, maxDurationMs: 5_000, type: 'backlog', ledger });
    assert.equal(backlog.accepted, 300);
    await waitUntil(() => redis.commandsSettled(), 'the backlog to be stored');
    // ...and a stream that runs before, during and after the connect and its replay: conditions, not rates, make it
    // straddle (part of it stored before the device connects, and it goes on until the device has some of it live).
    const racer: { device?: ResumingDevice } = {};
    /** How much of the stream the device got before its session.ready (replayed) and after it (live). */
    const aroundReady = (device: ResumingDevice): { readyAt: number; replayed: number; live: number } => {
      const readyAt = device.events.findIndex((event) => event.kind === 'ready');
      const during = (events: typeof device.events): number => events.filter((event) => event.kind === 'notification' && event.envelope.type === 'during').length;
      return readyAt < 0 ? { readyAt, replayed: 0, live: 0 } : { readyAt, replayed: during(device.events.slice(0, readyAt)), live: during(device.events.slice(readyAt)) };
    };
    const streaming = publishSteadily(sdk, {
      users: [user],
      count: 650,
      ratePerSecond: 600,
      maxDurationMs: 10_000,
      type: 'during',
      ledger,
      until: () => racer.device !== undefined && aroundReady(racer.device).live >= 50,
    });
    await waitUntil(async () => (await redis.feedIds(user)).filter((id) => id.startsWith('during-')).length >= 100, 'part of the stream to be stored', 10_000);
    const device = await ResumingDevice.connect(topology.at(1).url, user, { since, name: 'racer' });
    racer.device = device;
    devices.push(device);
    const load = await streaming;
    t.diagnostic(`backlog: ${describeLoad(backlog)}; stream: ${describeLoad(load)}`);

    const everything = ledger.accepted(user);
    await device.waitForIds(everything, 20_000).catch(() => undefined);
    const ready = device.readies[0];
    const { readyAt, replayed: duringReplayed, live: duringLive } = aroundReady(device);
    t.diagnostic(`replayed ${ready.replayed} (${duringReplayed} of them from the stream), then ${duringLive} live`);

    const received = device.notifications.map((envelope) => envelope.id);
    const order = await redis.feedIds(user);
    assert.ok(order.includes('rs-race-first'), 'the feed still holds the first: nothing after since was trimmed');
    const expected = order.slice(order.indexOf('rs-race-first') + 1);
    assert.deepEqual(
      expected.filter((id) => !everything.includes(id)),
      [],
      'nothing but the load in the feed after the first',
    );
    assert.deepEqual(received, expected, 'exactly the feed after since, in feed order, once');
    assert.ok(duringReplayed > 0 && duringLive > 0, 'the stream straddled the replay: some of it replayed, some live');
    assert.equal(ready.recovered, true);
    assert.equal(ready.replayed, readyAt);
    assert.deepEqual(device.connectionViolations(), []);
  });

  it('broadcasts missed while offline come back with broadcastSince, marked as broadcast, once', async () => {
    const device = await connect('rs-bc', 0);
    const online = await connect('rs-bc-other', 1);
    await sdk.broadcast({ id: 'rs-bc-0', type: 'bc', data: { n: 0 } });
    await Promise.all([device.waitForType('bc'), online.waitForType('bc')]);
    assert.equal(device.broadcastCursor, device.ofType('bc')[0].cursor);
    assert.equal(device.ofType('bc')[0].feed, 'broadcast');

    device.goOffline();
    for (let n = 1; n <= 3; n++) await sdk.broadcast({ id: `rs-bc-${n}`, type: 'bc', data: { n } });
    await online.waitForType('bc', 4);
    const ready = await device.comeBack();
    assert.equal(device.handshakes.at(-1)?.broadcastSince, device.ofType('bc')[0].cursor);
    // In the broadcast feed's order (not necessarily publish order: see the publish-order scenario).
    const feed = (await redis.broadcastFeedIds()).filter((id) => id.startsWith('rs-bc-'));
    assert.deepEqual(feed.slice().sort(), ['rs-bc-0', 'rs-bc-1', 'rs-bc-2', 'rs-bc-3']);
    assert.deepEqual(
      device.ofType('bc').map((envelope) => [envelope.id, envelope.feed]),
      feed.map((id) => [id, 'broadcast']),
    );
    assert.deepEqual(
      { recovered: ready.broadcast.recovered, replayed: ready.broadcast.replayed, cursor: ready.broadcast.cursor },
      { recovered: true, replayed: 3, cursor: online.ofType('bc')[3].cursor },
    );
    assert.equal(ready.replayed, 0, 'nothing in the user feed');
    assert.deepEqual(device.connectionViolations(), []);
    assert.equal(online.ofType('bc').length, 4);
  });
});
