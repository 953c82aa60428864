import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SessionEndReasons, type NotificationEnvelope } from '@herald/contracts';
import { HeraldPublisher } from '@herald/publisher';
import {
  cleanUp,
  DeliveryLedger,
  describeLoad,
  diagnoseLines,
  HeraldRedis,
  MetricsSnapshot,
  publishSteadily,
  ResumingDevice,
  SilentWebSocketPeer,
  signToken,
  startDurable,
  waitUntil,
  type Topology,
} from '@herald/testing';

/** The default bound. */
const LIMIT = 1024 * 1024;
const MiB = 1024 * 1024;

/**
 * A device that stops reading while its user gets notifications fast (1,000/s of 4 KB): without a bound the instance
 * holds everything for it until the ping timeout (the issue measured +95 MB in 30 s). With MAX_SOCKET_BUFFER_BYTES the
 * socket is ended as a slow consumer, the user's other device gets everything, and the slow one, reconnecting with the
 * cursor of the last notification it read, gets exactly what it missed.
 */
describe('slow consumers: a socket that stops reading is ended, and resumes without loss (MAX_SOCKET_BUFFER_BYTES=1 MiB)', () => {
  let topology: Topology;
  let sdk: HeraldPublisher;
  let redis: HeraldRedis;
  let peer: SilentWebSocketPeer | undefined;
  const devices: ResumingDevice[] = [];

  before(async () => {
    ({ topology, sdk, redis } = await startDurable({
      gateways: 1,
      gatewayEnv: { MAX_SOCKET_BUFFER_BYTES: String(LIMIT), INBOX_MAX_LENGTH: '20000', LOG_LEVEL: 'info' },
    }));
  });

  after(async () => {
    peer?.destroy();
    await cleanUp(...devices, sdk, redis, topology);
  });

  it('ends the stuck socket with slow_consumer; cut at the bound; the other device gets everything; the stuck one resumes with its cursor, once each', async (t) => {
    const gateway = topology.at(0);
    const user = 'slow-user';
    const ledger = new DeliveryLedger();
    const fast = await ResumingDevice.connect(gateway.url, user, { name: 'fast' });
    devices.push(fast);
    ledger.track(fast);
    const slow = await SilentWebSocketPeer.connect(gateway.url, await signToken({ sub: user }));
    peer = slow;
    // What the stuck device reads before it stops, then what it reads on its next connection: one device's history.
    const later: { resumed?: ResumingDevice } = {};
    const slowDevice = {
      name: 'slow',
      userId: user,
      get notifications(): NotificationEnvelope[] {
        return [...(slow.events('notification') as NotificationEnvelope[]), ...(later.resumed?.notifications ?? [])];
      },
    };
    ledger.track(slowDevice);
    slow.stopReading();

    const before = await MetricsSnapshot.scrape(gateway.url);
    const rssBefore = before.value('herald_process_resident_memory_bytes');
    let rssPeak = rssBefore;
    const sampling = { on: true };
    const sampler = (async () => {
      while (sampling.on) {
        rssPeak = Math.max(rssPeak, (await MetricsSnapshot.scrape(gateway.url)).value('herald_process_resident_memory_bytes'));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const slowEnded = async (): Promise<number> =>
      (await MetricsSnapshot.scrape(gateway.url)).changesSince(before, 'herald_sessions_ended_total')[`{reason="${SessionEndReasons.SlowConsumer}"}`] ?? 0;

    // 1,000/s of 4 KB for up to 8 s: far more than the kernel's socket buffers and the bound take.
    const result = await publishSteadily(sdk, { users: [user], count: 12_000, ratePerSecond: 1000, maxDurationMs: 8000, padBytes: 4096, ledger, type: 'slow' });
    t.diagnostic(describeLoad(result));
    await waitUntil(async () => (await slowEnded()) === 1, 'the stuck socket to be ended as a slow consumer', 10_000);
    await waitUntil(() => ledger.rows()[0].lost === 0, 'the fast device to have everything', 30_000).catch(() => undefined);
    sampling.on = false;
    await sampler;
    const growthMiB = (rssPeak - rssBefore) / MiB;
    t.diagnostic(
      `instance RSS ${(rssBefore / MiB).toFixed(0)} MiB before, peak ${(rssPeak / MiB).toFixed(0)} MiB (+${growthMiB.toFixed(0)} MiB) over ${((result.accepted * 4) / 1024).toFixed(0)} MiB published`,
    );

    const after = await MetricsSnapshot.scrape(gateway.url);
    assert.deepEqual(after.changesSince(before, 'herald_sessions_ended_total'), { [`{reason="${SessionEndReasons.SlowConsumer}"}`]: 1 }, 'only the stuck socket');
    assert.equal(fast.connections, 1, 'the device that reads was never cut');
    // The bound in action: the stuck socket was cut with at most the limit and one notification queued. (RSS is
    // reported above, not asserted: under a parallel test run it mostly measures garbage not yet collected; the
    // benchmark in docs/performance.md compares it with and without the bound.)
    const cuts = await gateway.logsWith('slow consumer: session ended');
    assert.equal(cuts.length, 1);
    const queued = Number(cuts[0]['queuedBytes']);
    assert.ok(queued > LIMIT && queued <= LIMIT + 8 * 1024, `cut with ${queued} bytes queued`);

    // The stuck device reads what it had been sent, then finds the connection closed.
    slow.resumeReading();
    await waitUntil(() => slow.closedByServer, 'the server to have closed the stuck connection', 10_000);
    const read = slow.events('notification') as NotificationEnvelope[];
    const cursor = read.at(-1)?.cursor;
    assert.ok(read.length < result.accepted, `the stuck device read ${read.length} before it was cut`);
    t.diagnostic(`the stuck device read ${read.length} of ${result.accepted} before it was cut; it resumes from ${cursor ?? 'nothing'}`);
    const resumed = await ResumingDevice.connect(gateway.url, user, { name: 'slow-again', ...(cursor === undefined ? {} : { since: cursor }) });
    later.resumed = resumed;
    devices.push(resumed);
    assert.equal(resumed.lastReady.recovered, true);

    await waitUntil(() => ledger.complete(), 'both devices to have every accepted notification', 30_000).catch(() => undefined);
    const rows = ledger.rows();
    diagnoseLines(t, DeliveryLedger.table(rows));
    DeliveryLedger.assertClean(rows, 'after a slow consumer was cut');
    assert.equal(rows.find((row) => row.device === 'slow')?.duplicated, 0, 'what the stuck device had read is not sent again');
    assert.deepEqual(resumed.connectionViolations(), []);
  });
});
