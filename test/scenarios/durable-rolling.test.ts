import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldPublisher } from '@herald/publisher';
import {
  DeliveryLedger,
  diagnoseLines,
  HeraldRedis,
  ResumingDevice,
  describeLoad,
  fromAddress,
  publishSteadily,
  startTopology,
  waitUntil,
  type ClientOptions,
  type Topology,
} from '@herald/testing';

const DEVICES = 300;
const USERS = 150;
const RATE = 200;
/** Loopback addresses the devices connect from: nginx hashes on the client address, so they spread over the instances. */
const ADDRESSES = 60;

/**
 * A rolling restart behind nginx under steady load: each of the 3 instances in turn is stopped gracefully (its
 * clients are told to reconnect and land on the others through nginx) and started again on the same address, while
 * the SDK publishes at 200/s. Every device resumes with since; none may lose or get twice any accepted notification.
 */
describe(`durable: rolling restart of 3 instances behind nginx, ${DEVICES} devices, ${RATE}/s`, () => {
  let topology: Topology;
  let sdk: HeraldPublisher;
  let redis: HeraldRedis;
  const devices: ResumingDevice[] = [];

  before(async () => {
    topology = await startTopology({ gateways: 3, nginx: true, gatewayEnv: { INGEST_CLAIM_IDLE_MS: '1000', LOG_LEVEL: 'info' } });
    sdk = new HeraldPublisher({ redisUrl: topology.redis.url });
    await sdk.connect();
    redis = await HeraldRedis.connect(topology.redis.url);
  });

  after(async () => {
    for (const device of devices) device.close();
    await sdk?.close();
    await redis?.close();
    await topology?.stop();
  });

  it('0 lost, 0 duplicated, in feed order, on every device', async (t) => {
    const users = Array.from({ length: USERS }, (_, index) => `roll-${index}`);
    const agents = new Map<number, ClientOptions>();
    const ledger = new DeliveryLedger();
    const connectStarted = Date.now();
    for (let batch = 0; batch < DEVICES; batch += 50) {
      const connected = await Promise.all(
        Array.from({ length: Math.min(50, DEVICES - batch) }, (_, offset) => {
          const n = batch + offset;
          const address = n % ADDRESSES;
          if (!agents.has(address)) agents.set(address, fromAddress(`127.0.1.${address + 1}`));
          return ResumingDevice.connect(topology.nginx!.url, users[n % USERS]!, { name: `roll-${n % USERS}/${Math.floor(n / USERS)}`, socket: agents.get(address)! });
        }),
      );
      devices.push(...connected);
    }
    for (const device of devices) ledger.track(device);
    t.diagnostic(`${DEVICES} devices connected in ${Date.now() - connectStarted} ms`);
    const incarnations = await Promise.all(topology.gateways.map((gateway) => gateway.incarnation()));

    let rolled = false;
    let rolledAt = 0;
    const restarts: string[] = [];
    const rolling = (async () => {
      await waitUntil(() => ledger.acceptedCount >= RATE * 2, '2 s of load before the first restart', 20_000);
      for (let index = 0; index < topology.gateways.length; index++) {
        const startedAt = Date.now();
        await topology.restartGateway(index);
        await waitUntil(() => devices.every((device) => device.connected), 'every device to be connected again', 30_000, 50);
        restarts.push(`instance ${index}: ${Date.now() - startedAt} ms`);
      }
      rolledAt = ledger.acceptedCount;
      // Two more seconds of load after the last instance is back.
      await waitUntil(() => ledger.acceptedCount >= rolledAt + RATE * 2, '2 s of load after the rolling restart', 20_000);
      rolled = true;
    })();
    const load = await publishSteadily(sdk, { users, count: RATE * 40, ratePerSecond: RATE, maxDurationMs: 40_000, until: () => rolled, type: 'roll', ledger });
    await rolling;
    t.diagnostic(`${describeLoad(load)}; restarts (stop, start, every device back): ${restarts.join(', ')}`);
    assert.ok(load.achievedRate >= RATE * 0.9, `published at ${load.achievedRate.toFixed(0)}/s, below ${RATE}/s`);
    assert.equal(load.rejected + load.unsettled, 0, 'Redis accepted every publish');

    await waitUntil(() => ledger.complete(), 'every device to receive every accepted notification', 30_000).catch(() => undefined);
    const order = new Map(await Promise.all(users.map(async (user) => [user, await redis.feedIds(user)] as const)));
    const rows = ledger.rows(order);
    diagnoseLines(t, DeliveryLedger.table(rows));
    DeliveryLedger.assertClean(rows, 'rolling restart');

    const newIncarnations = await Promise.all(topology.gateways.map((gateway) => gateway.incarnation()));
    newIncarnations.forEach((incarnation, index) => assert.notEqual(incarnation, incarnations[index], `instance ${index} was restarted`));
    const reconnects = devices.map((device) => device.connections - 1);
    t.diagnostic(`reconnections per device: min ${Math.min(...reconnects)}, max ${Math.max(...reconnects)}, total ${reconnects.reduce((a, b) => a + b, 0)}`);
    assert.ok(
      devices.every((device) => device.connections >= 2),
      'every device was on a restarted instance and resumed at least once',
    );
    const violations = devices.flatMap((device) => device.connectionViolations());
    assert.deepEqual(violations.slice(0, 10), [], `${violations.length} per-connection violations`);
    const gaps = devices.flatMap((device) => device.readies.filter((ready) => !ready.recovered).map((ready) => `${device.name}: ${JSON.stringify(ready.gap)}`));
    assert.deepEqual(gaps.slice(0, 10), [], `${gaps.length} resumes with a gap`);
    for (const user of users) assert.equal(order.get(user)!.length, new Set(order.get(user)).size, `${user}: no id stored twice`);
  });
});
