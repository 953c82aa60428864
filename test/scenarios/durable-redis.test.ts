import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldPublisher } from '@herald/publisher';
import {
  cleanUp,
  DeliveryLedger,
  describeLoad,
  diagnoseLines,
  HeraldRedis,
  publishSteadily,
  ResumingDevice,
  waitUntil,
  type Topology,
  startDurable,
} from '@herald/testing';

/**
 * Redis restarted gracefully (SIGTERM / `docker stop`: the AOF is fsynced) while the SDK keeps publishing: every
 * notification the SDK reported accepted reaches every device of its user once, whether the device's socket stayed
 * up through the outage or it lost its transport while Redis was down and reconnected with since.
 */
describe('durable: Redis graceful restart under a steady load (2 instances, AOF)', () => {
  let topology: Topology;
  let sdk: HeraldPublisher;
  let redis: HeraldRedis;
  const devices: ResumingDevice[] = [];

  before(async () => {
    ({ topology, sdk, redis } = await startDurable({ gateways: 2, gatewayEnv: { INGEST_CLAIM_IDLE_MS: '1000' } }));
  });

  after(async () => {
    await cleanUp(...devices, sdk, redis, topology);
  });

  it('0 lost of what the SDK accepted, 0 duplicated, every resume complete', async (t) => {
    const users = Array.from({ length: 30 }, (_, index) => `rr-user-${index}`);
    const ledger = new DeliveryLedger();
    // One device per user on alternating instances, and a second one for every third user on the other instance.
    for (const [index, user] of users.entries()) {
      for (const instance of index % 3 === 0 ? [index, index + 1] : [index]) {
        const device = await ResumingDevice.connect(topology.at(instance).url, user, { name: `${user}@${instance % 2}` });
        devices.push(device);
        ledger.track(device);
      }
    }
    const cut = devices.filter((_, index) => index % 3 === 1);
    let epochs: Array<string | undefined> = [];
    let restartedAfter = 0;
    let restartMs = 0;
    const restart = (async () => {
      await waitUntil(() => ledger.acceptedCount >= 250, '2.5 s of load before the restart', 20_000);
      restartedAfter = ledger.acceptedCount;
      epochs = await Promise.all(users.map(async (user) => (await redis.feedMeta(redis.feedKeys(user)))['e']));
      const startedAt = Date.now();
      await topology.redis.restart({
        // While Redis is down, every third device loses its transport and tries to come back: its handshake (and
        // the replay after `since`) meets a gateway without Redis.
        whileDown: async () => {
          const attempts = cut.map((device) => device.handshakes.length);
          for (const device of cut) device.dropTransport();
          await waitUntil(
            () => cut.every((device, index) => device.handshakes.length > attempts[index]),
            'the cut devices to try to reconnect while Redis is down',
            10_000,
          );
        },
      });
      restartMs = Date.now() - startedAt;
      for (const instance of topology.gateways) await instance.waitReady(30_000);
    })();
    const load = await publishSteadily(sdk, { users, count: 900, ratePerSecond: 100, maxDurationMs: 9_000, type: 'rr', ledger, settleMs: 20_000 });
    await restart;
    t.diagnostic(`${describeLoad(load)}; Redis restarted after ${restartedAfter} accepted, down for ${restartMs} ms`);
    assert.ok(ledger.acceptedCount > restartedAfter + 100, 'the load went on after the restart and Redis accepted it');

    await waitUntil(() => ledger.complete(), 'every device to receive every accepted notification', 30_000).catch(() => undefined);
    const order = new Map(await Promise.all(users.map(async (user) => [user, await redis.feedIds(user)] as const)));
    const rows = ledger.rows(order);
    diagnoseLines(t, DeliveryLedger.table(rows));
    DeliveryLedger.assertClean(rows, 'through a Redis restart');

    const reconnected = devices.filter((device) => device.connections > 1);
    t.diagnostic(`${reconnected.length} of ${devices.length} devices reconnected (${cut.length} had their transport cut while Redis was down)`);
    for (const device of cut) assert.ok(device.connections >= 2, `${device.name} came back after its transport was cut`);
    for (const device of devices) {
      assert.deepEqual(device.connectionViolations(), [], device.name);
      for (const ready of device.readies.slice(1))
        assert.equal(ready.recovered, true, `${device.name}: resume after the restart had a gap: ${JSON.stringify(ready.gap)}`);
    }
    // What was stored before the restart is still there, in the same incarnation of each feed.
    assert.ok(
      epochs.every((epoch) => epoch !== undefined),
      'every feed existed before the restart',
    );
    for (const [index, user] of users.entries()) {
      assert.equal((await redis.feedMeta(redis.feedKeys(user)))['e'], epochs[index], `${user}: the feed kept its epoch`);
      assert.equal((order.get(user) ?? []).length, new Set(order.get(user)).size, `${user}: no id stored twice`);
    }
  });
});
