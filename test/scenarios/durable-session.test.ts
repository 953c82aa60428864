import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FEED_START, GapReasons, type NotificationEnvelope } from '@herald/contracts';
import { HeraldPublisher } from '@herald/publisher';
import { cleanUp, HeraldRedis, ResumingDevice, waitUntil, type Topology, startDurable, deviceConnector } from '@herald/testing';

/** Retention in this file: a feed keeps its last 5 notifications, so trimming is quick to reach. */
const MAX_LENGTH = 5;

/**
 * session.ready: where a device stands once its (re)connect is complete, and what a bad, foreign or too old `since`
 * does. None of them refuses the connection; none reveals another user's notifications.
 */
describe('durable: session.ready and the since cursor (INBOX_MAX_LENGTH=5, 2 instances)', () => {
  let topology: Topology;
  let sdk: HeraldPublisher;
  let redis: HeraldRedis;
  const devices: ResumingDevice[] = [];

  const connect = deviceConnector(() => topology, devices);

  /** Publishes `count` notifications to a user, one after the other, and waits until a live device got them all. */
  const notify = async (user: string, type: string, count: number, witness: ResumingDevice): Promise<NotificationEnvelope[]> => {
    for (let seq = 1; seq <= count; seq++) await sdk.notifyUser({ userId: user, id: `${user}-${type}-${seq}`, type, data: { seq } });
    return witness.waitForType(type, count);
  };

  before(async () => {
    ({ topology, sdk, redis } = await startDurable({ gateways: 2, gatewayEnv: { INBOX_MAX_LENGTH: String(MAX_LENGTH) } }));
  });

  after(async () => {
    await cleanUp(...devices, sdk, redis, topology);
  });

  it('an empty inbox: cursor null, recovered, nothing replayed', async () => {
    const device = await connect('ss-empty', 0);
    assert.equal(device.readies.length, 1);
    const ready = device.lastReady;
    assert.equal(ready.cursor, null);
    assert.equal(ready.recovered, true);
    assert.equal(ready.replayed, 0);
    assert.equal(ready.gap, undefined);
    assert.equal(typeof ready.broadcast.recovered, 'boolean');
    assert.equal(ready.broadcast.replayed, 0, 'no broadcastSince: no broadcast replayed');
    assert.deepEqual(device.notifications, []);
  });

  it('a device that saw its inbox empty resumes from its start: offline when the first notifications came, it gets them all', async () => {
    const device = await connect('ss-first', 0);
    assert.equal(device.lastReady.cursor, null);
    device.goOffline();
    for (let seq = 1; seq <= 3; seq++) await sdk.notifyUser({ userId: 'ss-first', id: `ss-first-${String(seq)}`, type: 'first', data: { seq } });
    await waitUntil(async () => (await redis.feedLength('ss-first')) === 3, 'three stored');
    const ready = await device.comeBack();
    assert.equal(device.handshakes.at(-1)?.since, FEED_START, 'it resumes from the start of the feed');
    assert.deepEqual(
      device.notifications.map((envelope) => envelope.id),
      await redis.feedIds('ss-first'),
    );
    assert.deepEqual({ recovered: ready.recovered, replayed: ready.replayed, gap: ready.gap }, { recovered: true, replayed: 3, gap: undefined });
  });

  it("a connect without since replays nothing, and its cursor is the feed's last one", async () => {
    const witness = await connect('ss-last', 0);
    const live = await notify('ss-last', 'n', 3, witness);
    assert.deepEqual(
      live.map((envelope) => envelope.id),
      await redis.feedIds('ss-last'),
      'live notifications come in feed order',
    );

    const fresh = await connect('ss-last', 1);
    const ready = fresh.lastReady;
    assert.deepEqual(
      { cursor: ready.cursor, recovered: ready.recovered, replayed: ready.replayed, gap: ready.gap },
      { cursor: live[2].cursor, recovered: true, replayed: 0, gap: undefined },
    );
    assert.deepEqual(fresh.notifications, []);
    // The witness' session.ready (empty feed then) and this one differ: the cursor moved with the feed.
    assert.equal(witness.readies[0].cursor, null);
  });

  it('since = an earlier cursor: exactly what came after it is replayed, in order, before session.ready', async () => {
    const witness = await connect('ss-resume', 0);
    const live = await notify('ss-resume', 'n', 4, witness);
    const device = await connect('ss-resume', 1, live[0].cursor);
    assert.deepEqual(
      device.notifications.map((envelope) => envelope.id),
      live.slice(1).map((envelope) => envelope.id),
    );
    assert.deepEqual(device.notifications, live.slice(1), 'replayed envelopes are the live ones, cursor included');
    const ready = device.lastReady;
    assert.deepEqual(
      { cursor: ready.cursor, recovered: ready.recovered, replayed: ready.replayed, gap: ready.gap },
      { cursor: live[3].cursor, recovered: true, replayed: 3, gap: undefined },
    );
    assert.deepEqual(device.connectionViolations(), []);

    const upToDate = await connect('ss-resume', 0, live[3].cursor);
    assert.deepEqual(upToDate.notifications, [], 'since = the last cursor: nothing to replay');
    assert.equal(upToDate.lastReady.recovered, true);
    assert.equal(upToDate.lastReady.cursor, live[3].cursor);
  });

  for (const [label, since] of [
    ['not a cursor at all', 'garbage'],
    ['empty', ''],
    ['a number', 42],
    ['a dot and no sequence', 'abc.'],
    ['a zero sequence', 'abc.0'],
    ['far too long', `${'a'.repeat(300)}.1`],
  ] as const) {
    it(`a malformed since (${label}): accepted, recovered false, gap malformed, nothing replayed`, async () => {
      const user = `ss-bad-${label.replace(/\W+/g, '-')}`;
      const witness = await connect(user, 0);
      const live = await notify(user, 'n', 2, witness);
      const device = await connect(user, 1, since as string);
      assert.ok(device.connected, 'the connection is accepted');
      assert.deepEqual(device.notifications, [], 'nothing replayed');
      const ready = device.lastReady;
      assert.equal(ready.recovered, false);
      assert.equal(ready.replayed, 0);
      assert.equal(ready.cursor, live[1].cursor);
      assert.deepEqual(ready.gap, { reason: GapReasons.Malformed, after: null, before: null });
      // And the session works: live notifications arrive.
      await sdk.notifyUser({ userId: user, id: `${user}-live`, type: 'live', data: null });
      await device.waitForType('live');
    });
  }

  it("a since cursor from another user's inbox, with a higher sequence: only the device's own notifications, ever", async (t) => {
    const aliceWitness = await connect('ss-alice', 0);
    const alice = await notify('ss-alice', 'secret', 4, aliceWitness);
    const bobWitness = await connect('ss-bob', 1);
    await notify('ss-bob', 'mine', 2, bobWitness);
    const aliceIds = new Set(alice.map((envelope) => envelope.id));

    // Alice's cursor at her 2nd notification is "ahead" of Bob's first; her 4th is beyond Bob's whole feed.
    for (const [round, stolen] of [alice[1].cursor, alice[3].cursor].entries()) {
      await bobWitness.waitForType('mine-later', round);
      const head = bobWitness.cursor;
      const device = await connect('ss-bob', 0, stolen);
      assert.ok(device.connected, 'not refused');
      const bobsFeed = new Set(await redis.feedIds('ss-bob'));
      for (const envelope of device.notifications) {
        assert.ok(!aliceIds.has(envelope.id) && envelope.type !== 'secret', `replayed Alice's ${envelope.id} to Bob`);
        assert.ok(bobsFeed.has(envelope.id), `replayed ${envelope.id} (${envelope.type}), which is not in Bob's feed`);
      }
      t.diagnostic(`Bob with Alice's cursor ${stolen}: replayed ${device.notifications.length}, session.ready ${JSON.stringify(device.lastReady)}`);
      const ready = device.lastReady;
      assert.equal(ready.cursor, head, "session.ready names Bob's own head");
      // A foreign cursor cannot be proof that nothing is missing.
      if (!ready.recovered) assert.ok(ready.gap && ready.gap.reason !== GapReasons.Trimmed, JSON.stringify(ready.gap));
      await sdk.notifyUser({ userId: 'ss-alice', id: `ss-alice-later-${device.name}`, type: 'secret', data: null });
      await sdk.notifyUser({ userId: 'ss-bob', id: `ss-bob-later-${device.name}`, type: 'mine-later', data: null });
      await device.waitForType('mine-later');
      assert.equal(device.ofType('secret').length, 0, 'nothing of Alice live either');
    }
  });

  it('since older than retention: recovered false, gap trimmed, the 5 retained notifications replayed', async () => {
    const witness = await connect('ss-trim', 0);
    const live = await notify('ss-trim', 'n', 12, witness);
    await waitUntil(async () => (await redis.feedLength('ss-trim')) === MAX_LENGTH, `the feed to be trimmed to ${MAX_LENGTH}`);

    const device = await connect('ss-trim', 1, live[1].cursor);
    const retained = live.slice(-MAX_LENGTH);
    assert.deepEqual(
      device.notifications.map((envelope) => envelope.data),
      retained.map((envelope) => envelope.data),
      'the retained ones, in order',
    );
    assert.deepEqual(device.notifications, retained);
    const ready = device.lastReady;
    assert.equal(ready.recovered, false);
    assert.equal(ready.replayed, MAX_LENGTH);
    assert.equal(ready.cursor, live[11].cursor);
    assert.deepEqual(ready.gap, { reason: GapReasons.Trimmed, after: live[1].cursor, before: retained[0].cursor });
    assert.deepEqual(device.connectionViolations(), []);

    // Just inside retention: the oldest retained one's predecessor is a complete resume.
    const inside = await connect('ss-trim', 0, live[11 - MAX_LENGTH].cursor);
    assert.equal(inside.lastReady.recovered, true, 'the cursor right before the oldest retained one misses nothing');
    assert.deepEqual(inside.notifications, retained);
  });
});
