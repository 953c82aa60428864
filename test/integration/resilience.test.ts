import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Patterns, SessionEndReasons } from '@herald/contracts';
import { GatewayCluster, GatewayProcess, RawPublisher, RedisServer, connectClient, signToken, waitUntil, type TestClient } from '@herald/testing';

describe('Redis outage', () => {
  let redis: RedisServer;
  let cluster: GatewayCluster;
  let publisher: RawPublisher;
  const clients: TestClient[] = [];

  before(async () => {
    redis = await RedisServer.start();
    cluster = await GatewayCluster.start(2, { redisUrl: redis.url });
    publisher = await RawPublisher.connect(redis.url);
  });

  after(async () => {
    for (const client of clients) client.close();
    await publisher?.close();
    await cluster?.stop();
    await redis?.stop();
  });

  it('goes unready and says so while Redis is down, then delivers again once it is back, with no gateway restart', async () => {
    const phone = await connectClient(cluster.at(0).url, await signToken({ sub: 'otto' }));
    const laptop = await connectClient(cluster.at(1).url, await signToken({ sub: 'otto' }));
    clients.push(phone, laptop);
    const pids = cluster.instances.map((instance) => instance.process.pid);

    await publisher.publish(Patterns.NotifyUser, { userId: 'otto', type: 'before', data: {} });
    await Promise.all([phone.waitForType('before'), laptop.waitForType('before')]);

    await redis.kill();
    for (const instance of cluster.instances) {
      await waitUntil(async () => !(await instance.isReady()), `${instance.instanceId} to report unready`);
      const { status, body } = await instance.health('ready');
      assert.equal(status, 503);
      assert.match(JSON.stringify(body), /redis_transport_sub":\{"status":"down"/);
      assert.equal((await instance.health('live')).status, 200, 'still live: restarting it would not help');
      await waitUntil(() => instance.logsWith('redis transport disconnected: commands are lost until it reconnects').length > 0, 'the outage log line');
    }

    await redis.launch();
    for (const instance of cluster.instances) await instance.waitReady();
    // Ready means reconnected; the re-subscription may land a moment later. PUBLISH counts the subscribers it reached.
    await waitUntil(
      async () => (await publisher.publish(Patterns.NotifyUser, { userId: 'nobody', type: 'probe', data: {} })) === cluster.instances.length,
      'both transports to be subscribed again',
    );

    await publisher.publish(Patterns.NotifyUser, { userId: 'otto', type: 'after', data: {} });
    const [afterOnPhone] = await phone.waitForType('after');
    const [afterOnLaptop] = await laptop.waitForType('after');
    assert.equal(afterOnPhone!.id, afterOnLaptop!.id);
    assert.deepEqual(
      cluster.instances.map((instance) => instance.process.pid),
      pids,
      'the same processes, never restarted',
    );
    assert.ok(phone.socket.connected && laptop.socket.connected, 'client sockets survive a Redis outage');
  });
});

describe('graceful shutdown', () => {
  let redis: RedisServer;

  before(async () => {
    redis = await RedisServer.start();
  });

  after(async () => {
    await redis?.stop();
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`on ${signal}: tells clients why, closes their transport so they retry, and exits 0 within 10 s`, async () => {
      const gateway = await GatewayProcess.start({ redisUrl: redis.url });
      // Reconnection on, as in a browser: behind nginx the retry lands on another instance (test/integration/edge tests).
      const client = await connectClient(gateway.url, await signToken({ sub: 'pia' }), { reconnection: true, reconnectionDelay: 50 });
      let retried = false;
      client.socket.io.on('reconnect_attempt', () => (retried = true));
      try {
        const startedAt = Date.now();
        gateway.process.signal(signal);
        assert.deepEqual(await gateway.process.exited, { code: 0, signal: null });
        assert.ok(Date.now() - startedAt < 10_000, 'within 10 s');
        assert.deepEqual(client.sessionEnds, [{ reason: SessionEndReasons.ServerShutdown, reconnect: true }]);
        assert.deepEqual(client.disconnects, ['transport close'], 'a transport close, which socket.io-client retries by itself');
        await waitUntil(() => retried, 'socket.io-client to start reconnecting');
        assert.equal(gateway.logsWith('draining: sessions closed').length, 1);
      } finally {
        client.close();
        await gateway.stop();
      }
    });
  }
});
