import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldPublisher } from '@herald/publisher';
import {
  cleanUp,
  DeliveryLedger,
  describeLoad,
  diagnoseLines,
  fromAddress,
  HeraldRedis,
  present,
  publishSteadily,
  ResumingDevice,
  startTopology,
  waitUntil,
  type ClientOptions,
  type Topology,
  startDurable,
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
 *
 * 300 devices (150 users, 2 devices each) on the 2-core machine: connecting them takes about 1 s, the whole file
 * about 25 s. The devices use socket.io-client's default transports (long-polling, then the upgrade), so both kinds
 * of request cross nginx during the restarts; the WebSocket-only case is the next scenario.
 */
describe(`durable: rolling restart of 3 instances behind nginx, ${DEVICES} devices, ${RATE}/s`, () => {
  let topology: Topology;
  let sdk: HeraldPublisher;
  let redis: HeraldRedis;
  const devices: ResumingDevice[] = [];

  before(async () => {
    ({ topology, sdk, redis } = await startDurable({ gateways: 3, nginx: true, gatewayEnv: { INGEST_CLAIM_IDLE_MS: '1000', LOG_LEVEL: 'info' } }));
  });

  after(async () => {
    await cleanUp(...devices, sdk, redis, topology);
  });

  it('0 lost, 0 duplicated, in feed order, on every device', async (t) => {
    const nginx = present(topology.nginx, 'nginx');
    const users = Array.from({ length: USERS }, (_, index) => `roll-${index}`);
    const agents = new Map<number, ClientOptions>();
    const ledger = new DeliveryLedger();
    const connectStarted = Date.now();
    for (let batch = 0; batch < DEVICES; batch += 50) {
      const connected = await Promise.all(
        Array.from({ length: Math.min(50, DEVICES - batch) }, (_, offset) => {
          const n = batch + offset;
          const address = n % ADDRESSES;
          let agent = agents.get(address);
          if (!agent) agents.set(address, (agent = fromAddress(`127.0.1.${address + 1}`)));
          return ResumingDevice.connect(nginx.url, users[n % USERS], {
            name: `roll-${n % USERS}/${Math.floor(n / USERS)}`,
            // socket.io-client's default transports, as a browser with the default configuration: see the second
            // scenario below for WebSocket-only clients.
            socket: { ...agent, transports: ['polling', 'websocket'] },
          });
        }),
      );
      devices.push(...connected);
    }
    for (const device of devices) ledger.track(device);
    t.diagnostic(`${DEVICES} devices connected in ${Date.now() - connectStarted} ms`);
    const incarnations = await Promise.all(topology.gateways.map((gateway) => gateway.incarnation()));

    let stopLoad = false;
    let rolledAt = 0;
    const restarts: string[] = [];
    const rolling = (async () => {
      await waitUntil(() => ledger.acceptedCount >= RATE * 2, '2 s of load before the first restart', 20_000);
      for (let index = 0; index < topology.gateways.length; index++) {
        const startedAt = Date.now();
        await topology.restartGateway(index);
        await waitUntil(() => devices.every((device) => device.connected), 'every device to be connected again', 30_000, 50).catch(async (error: unknown) => {
          const away = devices.filter((device) => !device.connected);
          const sample = away
            .slice(0, 5)
            .map(
              (device) =>
                `${device.name}: connections ${device.connections}, disconnects ${JSON.stringify(device.disconnects)}, connect errors ${JSON.stringify(device.connectErrors.slice(-5))}`,
            );
          const states = await Promise.all(topology.gateways.map(async (gateway) => `${gateway.instanceId} ${(await gateway.isReady()) ? 'ready' : 'NOT ready'}`));
          const statuses = new Map<string, number>();
          for (const record of (await nginx.accessLog()).slice(-500)) {
            const key = `${record.status} via ${record.upstream_status}`;
            statuses.set(key, (statuses.get(key) ?? 0) + 1);
          }
          const nginxErrors = (await nginx.errors()).slice(-5);
          throw new Error(
            `${error instanceof Error ? error.message : String(error)} after restarting instance ${index}: ${away.length} device(s) not connected, e.g.\n${sample.join('\n')}\n` +
              `instances: ${states.join(', ')}\nnginx, last 500 requests: ${JSON.stringify([...statuses])}\nnginx errors:\n${nginxErrors.join('\n')}`,
          );
        });
        restarts.push(`instance ${index}: ${Date.now() - startedAt} ms`);
      }
      rolledAt = ledger.acceptedCount;
      // Two more seconds of load after the last instance is back.
      await waitUntil(() => ledger.acceptedCount >= rolledAt + RATE * 2, '2 s of load after the rolling restart', 20_000);
    })().finally(() => (stopLoad = true));
    const load = await publishSteadily(sdk, { users, count: RATE * 40, ratePerSecond: RATE, maxDurationMs: 40_000, until: () => stopLoad, type: 'roll', ledger });
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
    for (const user of users) assert.equal((order.get(user) ?? []).length, new Set(order.get(user)).size, `${user}: no id stored twice`);
  });
});

/**
 * WebSocket-only clients (what the README recommends when possible) after a rolling restart. nginx counts an instance
 * as recovered from a failure only when a request to it completes, and a WebSocket is one request that lasts as long as
 * its connection: with `max_fails=1 fail_timeout=10s` each restarted instance took one new WebSocket client per 10 s,
 * and 27 of 30 devices were refused ("no live upstreams") for more than 15 s. nginx now never marks an instance down
 * (`max_fails=0`, docs/operations.md); this fails with the old setting.
 */
describe('behind nginx: WebSocket-only clients after a rolling restart of 3 instances', () => {
  let topology: Topology;
  const devices: ResumingDevice[] = [];

  before(async () => {
    topology = await startTopology({ gateways: 3, nginx: true, gatewayEnv: { LOG_LEVEL: 'info' } });
  });

  after(async () => {
    await cleanUp(...devices, topology);
  });

  it('every device is connected again within 5 s of the last instance being back', async () => {
    const nginx = present(topology.nginx, 'nginx');
    for (let n = 0; n < 30; n++) {
      devices.push(await ResumingDevice.connect(nginx.url, `ws-only-${n}`, { socket: { ...fromAddress(`127.0.2.${n + 1}`), transports: ['websocket'] } }));
    }
    for (let index = 0; index < topology.gateways.length; index++) await topology.restartGateway(index);
    const back = Date.now();
    await waitUntil(() => devices.every((device) => device.connected), 'every WebSocket-only device to be connected again', 5_000, 50).catch(async (error: unknown) => {
      const noLive = (await nginx.errors()).filter((line) => line.includes('no live upstreams')).length;
      throw new Error(
        `${error instanceof Error ? error.message : String(error)}: ${devices.filter((device) => !device.connected).length} of ${devices.length} still offline ${Date.now() - back} ms after the last ` +
          `instance was back; nginx logged "no live upstreams" ${noLive} times`,
      );
    });
  });
});
