import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Patterns, SessionEndReasons } from '@herald/contracts';
import {
  RawPublisher,
  SilentWebSocketPeer,
  StalledHttpRequest,
  connectClient,
  openAwaitingToken,
  signToken,
  startTopology,
  waitUntil,
  type GatewayHandle,
  type TestClient,
  type Topology,
  cleanUp,
} from '@herald/testing';

describe('Redis outage', () => {
  let topology: Topology;
  let publisher: RawPublisher;
  const clients: TestClient[] = [];

  before(async () => {
    topology = await startTopology({ gateways: 2 });
    publisher = await RawPublisher.connect(topology.redis.url);
  });

  after(async () => {
    await cleanUp(...clients, publisher, topology);
  });

  it('goes unready and says so while Redis is down, then delivers again once it is back, with no gateway restart', async () => {
    const phone = await connectClient(topology.at(0).url, await signToken({ sub: 'otto' }));
    const laptop = await connectClient(topology.at(1).url, await signToken({ sub: 'otto' }));
    clients.push(phone, laptop);
    const incarnations = await Promise.all(topology.gateways.map((instance) => instance.incarnation()));

    await publisher.publish(Patterns.NotifyUser, { userId: 'otto', type: 'before', data: {} });
    await Promise.all([phone.waitForType('before'), laptop.waitForType('before')]);

    await topology.redis.kill();
    for (const instance of topology.gateways) {
      await waitUntil(async () => !(await instance.isReady()), `${instance.instanceId} to report unready`);
      const { status, body } = await instance.health('ready');
      assert.equal(status, 503);
      for (const role of ['store', 'route_sub', 'ingest', 'transport_sub']) assert.match(JSON.stringify(body), new RegExp(`redis_${role}":\\{"status":"down"`));
      assert.equal((await instance.health('live')).status, 200, 'still live: restarting it would not help');
      await waitUntil(
        async () => (await instance.logsWith('redis store disconnected: nothing is stored or replayed until it reconnects (commands wait in the stream)')).length > 0,
        'the outage log line',
      );
    }

    await topology.redis.launch();
    for (const instance of topology.gateways) await instance.waitReady();
    // Ready means reconnected; the re-subscription may land a moment later. PUBLISH counts the subscribers it reached.
    await waitUntil(
      async () => (await publisher.publish(Patterns.NotifyUser, { userId: 'nobody', type: 'probe', data: {} })) === topology.gateways.length,
      'both transports to be subscribed again',
    );

    await publisher.publish(Patterns.NotifyUser, { userId: 'otto', type: 'after', data: {} });
    const [afterOnPhone] = await phone.waitForType('after');
    const [afterOnLaptop] = await laptop.waitForType('after');
    assert.equal(afterOnPhone.id, afterOnLaptop.id);
    assert.deepEqual(await Promise.all(topology.gateways.map((instance) => instance.incarnation())), incarnations, 'the same processes, never restarted');
    assert.ok(phone.socket.connected && laptop.socket.connected, 'client sockets survive a Redis outage');
  });
});

describe('graceful shutdown', () => {
  let topology: Topology;

  before(async () => {
    topology = await startTopology({ gateways: 0 });
  });

  after(async () => {
    await cleanUp(topology);
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`on ${signal}: tells clients why, closes their transport so they retry, and exits 0 within 10 s`, async () => {
      const gateway = await topology.addGateway();
      // Reconnection on, as in a browser: behind nginx the retry lands on another instance (test/scenarios/edge.test.ts).
      const client = await connectClient(gateway.url, await signToken({ sub: 'pia' }), { reconnection: true, reconnectionDelay: 50 });
      let retried = false;
      client.socket.io.on('reconnect_attempt', () => (retried = true));
      try {
        const startedAt = Date.now();
        await gateway.signal(signal);
        assert.deepEqual(await gateway.exited(), { code: 0, signal: null });
        assert.ok(Date.now() - startedAt < 10_000, 'within 10 s');
        assert.deepEqual(client.sessionEnds, [{ reason: SessionEndReasons.ServerShutdown, reconnect: true }]);
        assert.deepEqual(client.disconnects, ['transport close'], 'a transport close, which socket.io-client retries by itself');
        await waitUntil(() => retried, 'socket.io-client to start reconnecting');
        assert.equal((await gateway.logsWith('draining: sessions closed')).length, 1);
      } finally {
        client.close();
        await gateway.stop();
      }
    });
  }

  // The gateway tracks no connections while it runs (that costs memory per idle connection); these are the peers that
  // would hold a shutdown waiting for every connection to close by itself. Well under the 10 s limit, after which the
  // gateway gives up and exits 1.
  const promptlyMs = 5_000;

  async function stopPromptly(gateway: GatewayHandle): Promise<void> {
    const startedAt = Date.now();
    await gateway.signal('SIGTERM');
    assert.deepEqual(await gateway.exited(), { code: 0, signal: null });
    const tookMs = Date.now() - startedAt;
    assert.ok(tookMs < promptlyMs, `exited after ${tookMs} ms, expected under ${promptlyMs} ms`);
  }

  it('on SIGTERM with polling-only clients, one with its next poll stalled in transit and one waiting for its token: exits 0 promptly', async () => {
    const gateway = await topology.addGateway();
    const pollingOnly = { transports: ['polling'] };
    const connected = await connectClient(gateway.url, await signToken({ sub: 'paul' }), pollingOnly);
    // The connected client's next long-poll, its headers stuck halfway: Node counts that connection as busy.
    const nextPoll = await StalledHttpRequest.start(gateway.url, `/socket.io/?EIO=4&transport=polling&sid=${connected.socket.io.engine.id}`);
    // Its Engine.IO session is open with a long-poll pending, but it is not a socket of the namespace yet: the drain
    // does not end it.
    const handshaking = await openAwaitingToken(gateway.url, pollingOnly);
    try {
      assert.deepEqual([connected.transport, handshaking.transport], ['polling', 'polling']);
      await stopPromptly(gateway);
      await waitUntil(() => connected.disconnects.length > 0, 'the connected client to lose its session');
      await waitUntil(() => nextPoll.closedByServer, 'the gateway to cut the stalled request', 2_000);
    } finally {
      connected.close();
      handshaking.close();
      nextPoll.destroy();
      await gateway.stop();
    }
  });

  it('on SIGTERM with a WebSocket peer that never answers the close frame: exits 0 promptly', async () => {
    const gateway = await topology.addGateway();
    const peer = await SilentWebSocketPeer.connect(gateway.url, await signToken({ sub: 'hana' }));
    try {
      await stopPromptly(gateway);
      assert.match(peer.received, /42\/notifications,\["session\.ended",\{"reason":"server_shutdown","reconnect":true\}\]/);
      await waitUntil(() => peer.closedByServer, 'the gateway to close the TCP connection', 2_000);
    } finally {
      peer.destroy();
      await gateway.stop();
    }
  });
});
