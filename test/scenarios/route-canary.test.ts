import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldPublisher } from '@herald/publisher';
import {
  cleanUp,
  DeliveryLedger,
  describeLoad,
  diagnoseLines,
  GatewayProcess,
  MetricsSnapshot,
  publishSteadily,
  RedisServer,
  ResumingDevice,
  TcpProxy,
  waitUntil,
} from '@herald/testing';

const INTERVAL_MS = 200;
const MAX_MISSES = 4;

/**
 * A route subscriber that is connected but deaf (Centrifugo issue 1189): the gateway reaches Redis through a TCP proxy,
 * which stops forwarding what Redis sends on the subscriber's connection (the one that sent SSUBSCRIBE) and keeps the
 * connection open. Nothing the gateway can see from the socket says anything is wrong; only the canary notices.
 */
describe('readiness: the route canary turns a deaf subscriber unready and heals it', () => {
  let redis: RedisServer;
  let proxy: TcpProxy;
  let gateway: GatewayProcess;
  let sdk: HeraldPublisher;
  const devices: ResumingDevice[] = [];

  before(async () => {
    redis = await RedisServer.start();
    proxy = await TcpProxy.start(redis.port);
    gateway = await GatewayProcess.start({
      redisUrl: proxy.redisUrl,
      env: { ROUTE_CANARY_INTERVAL_MS: String(INTERVAL_MS), ROUTE_CANARY_TIMEOUT_MS: String(INTERVAL_MS), ROUTE_CANARY_MAX_MISSES: String(MAX_MISSES) },
    });
    // Publishers talk to Redis directly: only the gateway's path is faulty.
    sdk = new HeraldPublisher({ redisUrl: redis.url });
    await sdk.connect();
  });

  after(async () => {
    await cleanUp(...devices, sdk, gateway, proxy, redis);
  });

  it('readiness goes false while probes go missing, the subscriber is reconnected, readiness and delivery come back with 0 lost', async (t) => {
    const before = await MetricsSnapshot.scrape(gateway.url);
    assert.equal(before.value('herald_route_canary_ok'), 1, 'a healthy instance: the canary comes back');
    assert.ok(before.histogram('herald_route_canary_round_trip_seconds', {}).count >= 1);
    const ready = await gateway.health('ready');
    assert.equal(ready.status, 200);
    assert.match(JSON.stringify(ready.body), /"route_canary":\{"status":"up"\}/);

    const users = ['canary-a', 'canary-b', 'canary-c'];
    const ledger = new DeliveryLedger();
    for (const user of users) {
      const device = await ResumingDevice.connect(gateway.url, user);
      devices.push(device);
      ledger.track(device);
    }

    // Readiness polled throughout, so the unready window is seen however short it is.
    const seen: boolean[] = [];
    const watching = { on: true };
    const watcher = (async () => {
      while (watching.on) {
        seen.push(await gateway.isReady());
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();

    let deafened = 0;
    const load = publishSteadily(sdk, {
      users,
      count: 600,
      ratePerSecond: 100,
      maxDurationMs: 15_000,
      ledger,
      until: () => deafened > 0 && seen.length > 0 && seen.at(-1) === true && seen.includes(false) && ledger.acceptedCount > 450,
    });
    await waitUntil(() => ledger.acceptedCount >= 50, 'some load before the fault');
    deafened = proxy.deafen('ssubscribe');
    assert.equal(deafened, 1, 'exactly one connection subscribed to routes: the route subscriber');
    await waitUntil(() => seen.includes(false), 'readiness to go false', 10_000);
    // The deaf connection is dropped by the gateway itself (the proxy never closes it) and a new one replaces it.
    await waitUntil(() => proxy.deafConnections === 0, 'the gateway to drop the deaf connection', 10_000);
    await waitUntil(() => seen.at(-1) === true, 'readiness to come back', 10_000);
    const result = await load;
    t.diagnostic(describeLoad(result));
    watching.on = false;
    await watcher;

    await waitUntil(() => ledger.complete(), 'every device to have every accepted notification', 20_000).catch(() => undefined);
    const rows = ledger.rows();
    diagnoseLines(t, DeliveryLedger.table(rows));
    DeliveryLedger.assertClean(rows, 'after a deaf route subscriber');
    for (const device of devices) assert.deepEqual(device.connectionViolations(), []);
    assert.ok(
      devices.every((device) => device.connections === 1),
      'the sockets stayed connected: the fix is on the Redis side',
    );

    const afterFault = await MetricsSnapshot.scrape(gateway.url);
    assert.equal(afterFault.value('herald_route_canary_ok'), 1);
    assert.ok(afterFault.changesSince(before, 'herald_route_canary_failures_total')['{reason="timeout"}'] >= MAX_MISSES - 1);
    assert.equal(afterFault.value('herald_route_subscriber_reconnects_total') - before.value('herald_route_subscriber_reconnects_total'), 1);
    assert.equal(gateway.logs().filter((record) => String(record['msg']).startsWith('route subscriber receives nothing although connected')).length, 1);
  });
});
