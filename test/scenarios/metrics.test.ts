import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuthFailureReasons, ClientErrorKinds, ClientMessageLabels, CommandRejectReasons, DisconnectReasonLabels, Patterns, RedisClientRoles } from '@herald/contracts';
import { HeraldPublisher } from '@herald/publisher';
import {
  MetricsSnapshot,
  RawPublisher,
  TestClient,
  connectClient,
  engineRequest,
  expectConnectError,
  labelKey,
  signToken,
  startTopology,
  waitUntil,
  type GatewayHandle,
  type Topology,
  cleanUp,
} from '@herald/testing';

const MAX_PAYLOAD_BYTES = 1024;

/**
 * One scripted scenario against two real instances, then exact deltas on each instance's /metrics.
 * Every instance receives every command, so command counters move on both; deliveries, connections and
 * client errors move only where the sockets are.
 */
describe('metrics: /metrics shows exactly what happened, per instance', () => {
  let topology: Topology;
  let publisher: RawPublisher;
  let sdk: HeraldPublisher;
  let a: GatewayHandle;
  let b: GatewayHandle;
  const clients: TestClient[] = [];

  const device = async (instance: GatewayHandle, user: string): Promise<TestClient> => {
    const client = await connectClient(instance.url, await signToken({ sub: user }));
    clients.push(client);
    return client;
  };

  before(async () => {
    topology = await startTopology({ gateways: 2, gatewayEnv: { MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES) } });
    [a, b] = [topology.at(0), topology.at(1)];
    publisher = await RawPublisher.connect(topology.redis.url);
    sdk = new HeraldPublisher({ redisUrl: topology.redis.url });
    await sdk.connect();
  });

  after(async () => {
    await cleanUp(...clients, sdk, publisher, topology);
  });

  it('serves the Prometheus text format with the documented types', async () => {
    const scrape = await MetricsSnapshot.scrape(a.url);
    assert.match(scrape.contentType, /^text\/plain; version=0\.0\.4/);
    const types = Object.fromEntries(
      [
        'herald_connected_sockets',
        'herald_connections_accepted_total',
        'herald_connections_rejected_total',
        'herald_disconnections_total',
        'herald_commands_received_total',
        'herald_commands_rejected_total',
        'herald_notifications_delivered_total',
        'herald_delivery_latency_seconds',
        'herald_client_messages_received_total',
        'herald_client_errors_total',
        'herald_redis_connected',
        'herald_instance_info',
        'herald_nodejs_eventloop_lag_seconds',
        'herald_nodejs_heap_size_used_bytes',
        'herald_process_cpu_seconds_total',
      ].map((name) => [name, scrape.type(name)]),
    );
    assert.deepEqual(types, {
      herald_connected_sockets: 'gauge',
      herald_connections_accepted_total: 'counter',
      herald_connections_rejected_total: 'counter',
      herald_disconnections_total: 'counter',
      herald_commands_received_total: 'counter',
      herald_commands_rejected_total: 'counter',
      herald_notifications_delivered_total: 'counter',
      herald_delivery_latency_seconds: 'histogram',
      herald_client_messages_received_total: 'counter',
      herald_client_errors_total: 'counter',
      herald_redis_connected: 'gauge',
      herald_instance_info: 'gauge',
      herald_nodejs_eventloop_lag_seconds: 'gauge',
      herald_nodejs_heap_size_used_bytes: 'gauge',
      herald_process_cpu_seconds_total: 'counter',
    });
    assert.equal(scrape.value('herald_instance_info', { instance_id: a.instanceId }), 1);
    for (const role of Object.values(RedisClientRoles)) assert.equal(scrape.value('herald_redis_connected', { role }), 1, role);
  });

  it('after N connects, M deliveries, K rejected commands and J refused handshakes, shows exactly those deltas', async () => {
    const [beforeA, beforeB] = await Promise.all([MetricsSnapshot.scrape(a.url), MetricsSnapshot.scrape(b.url)]);

    // J = 3 refused handshakes: two on A, one on B.
    assert.equal((await expectConnectError(a.url, undefined)).data?.reason, AuthFailureReasons.MissingToken);
    const forged = await signToken({ sub: 'mallory', secret: 'not-the-gateway-secret-0123456789' });
    assert.equal((await expectConnectError(a.url, forged)).data?.reason, AuthFailureReasons.InvalidToken);
    assert.equal((await expectConnectError(b.url, await signToken({ sub: 'late', expiresIn: -60 }))).data?.reason, AuthFailureReasons.ExpiredToken);

    // N = 5 connects: alice on both instances, bob on A, carol and dave on B.
    const aliceA = await device(a, 'alice');
    const bob = await device(a, 'bob');
    const aliceB = await device(b, 'alice');
    const carol = await device(b, 'carol');
    const dave = await device(b, 'dave');

    // M = 9 socket emits (A: 1 + 1 + 2, B: 1 + 1 + 3), plus a command that reaches nobody.
    await publisher.publish(Patterns.NotifyUser, { userId: 'alice', type: 'one', data: null });
    await publisher.publish(Patterns.NotifyUsers, { userIds: ['bob', 'carol', 'ghost'], type: 'some', data: null });
    // Sent a minute ago: the latency (measured from sentAt) lands beyond the last 10 s bucket.
    await publisher.publish(Patterns.NotifyBroadcast, { type: 'all', data: null, sentAt: Date.now() - 60_000 });
    await publisher.publish(Patterns.NotifyUser, { userId: 'nobody-home', type: 'lost', data: null });
    await Promise.all([aliceA.waitForType('one'), aliceB.waitForType('one'), bob.waitForType('some'), carol.waitForType('some')]);
    await Promise.all([aliceA, bob, aliceB, carol, dave].map((client) => client.waitForType('all')));

    // K = 5 rejected commands, one per pattern/reason below, then one valid presence query.
    await publisher.publish(Patterns.NotifyUser, { type: 'no-user', data: null });
    await publisher.publish(Patterns.NotifyUser, { userId: 'alice', type: 'huge', data: 'x'.repeat(MAX_PAYLOAD_BYTES + 1) });
    await publisher.publishRaw(Patterns.NotifyUsers, 'not json {');
    await publisher.publishRaw(Patterns.NotifyBroadcast, JSON.stringify({ no: 'envelope' }));
    await publisher.publishRaw(Patterns.PresenceQuery, JSON.stringify({ pattern: Patterns.PresenceQuery, data: { user: 'alice' }, id: 'bad-query' }));
    assert.deepEqual(await sdk.presence('alice'), { userId: 'alice', online: true, connections: 2 });
    // Commands are handled in publish order on each instance: once this arrives, everything above was counted.
    await publisher.publish(Patterns.NotifyUser, { userId: 'alice', type: 'barrier', data: null });
    await Promise.all([aliceA.waitForType('barrier'), aliceB.waitForType('barrier')]);
    assert.equal(aliceA.ofType('huge').length + aliceB.ofType('huge').length, 0);

    // Client-side trouble: an event clients must not send (A), bad engine.io handshakes (A and B),
    // a frame over the size limit (B: the transport is dropped) and a packet that is not socket.io (B: a socket error).
    bob.sendUnexpected('subscribe', { room: 'user:alice' });
    assert.equal((await engineRequest(a.url, { EIO: '4', transport: 'carrier-pigeon' })).status, 400);
    assert.equal((await engineRequest(b.url, { EIO: '4', transport: 'polling', sid: 'no-such-session' })).status, 400);
    carol.sendUnexpected('upload', 'x'.repeat(32 * 1024));
    await waitUntil(() => carol.disconnects.length === 1, 'carol to be dropped for an oversized frame');
    dave.sendUndecodablePacket();
    await waitUntil(() => dave.disconnects.length === 1, 'dave to be dropped for an undecodable packet');
    bob.close();

    const expectSockets = async (instance: GatewayHandle, count: number): Promise<void> =>
      waitUntil(async () => (await MetricsSnapshot.scrape(instance.url)).value('herald_connected_sockets') === count, `${count} sockets on ${instance.instanceId}`);
    await Promise.all([expectSockets(a, 1), expectSockets(b, 1)]);
    await waitUntil(
      async () =>
        (await MetricsSnapshot.scrape(a.url)).value('herald_client_messages_received_total', { event: ClientMessageLabels.Unexpected }) >
        beforeA.value('herald_client_messages_received_total', { event: ClientMessageLabels.Unexpected }),
      'the unexpected client event to be counted',
    );
    const [afterA, afterB] = await Promise.all([MetricsSnapshot.scrape(a.url), MetricsSnapshot.scrape(b.url)]);

    const pattern = (value: string): string => labelKey({ pattern: value });
    const rejected = (p: string, reason: string): string => labelKey({ pattern: p, reason });
    const sameOnBoth = {
      herald_commands_received_total: {
        [pattern(Patterns.NotifyUser)]: 5, // alice, nobody-home, no-user, huge, barrier
        [pattern(Patterns.NotifyUsers)]: 2,
        [pattern(Patterns.NotifyBroadcast)]: 2,
        [pattern(Patterns.PresenceQuery)]: 2,
      },
      herald_commands_rejected_total: {
        [rejected(Patterns.NotifyUser, CommandRejectReasons.InvalidShape)]: 1,
        [rejected(Patterns.NotifyUser, CommandRejectReasons.PayloadTooLarge)]: 1,
        [rejected(Patterns.NotifyUsers, CommandRejectReasons.NotJson)]: 1,
        [rejected(Patterns.NotifyBroadcast, CommandRejectReasons.NotAnEnvelope)]: 1,
        [rejected(Patterns.PresenceQuery, CommandRejectReasons.InvalidShape)]: 1,
      },
    };
    for (const [name, expected] of Object.entries(sameOnBoth)) {
      assert.deepEqual(afterA.changesSince(beforeA, name), expected, `${name} on A`);
      assert.deepEqual(afterB.changesSince(beforeB, name), expected, `${name} on B`);
    }

    // Deliveries only where the sockets are: one per socket reached.
    assert.deepEqual(afterA.changesSince(beforeA, 'herald_notifications_delivered_total'), {
      [pattern(Patterns.NotifyUser)]: 2, // alice: one, barrier
      [pattern(Patterns.NotifyUsers)]: 1, // bob
      [pattern(Patterns.NotifyBroadcast)]: 2, // alice, bob
    });
    assert.deepEqual(afterB.changesSince(beforeB, 'herald_notifications_delivered_total'), {
      [pattern(Patterns.NotifyUser)]: 2, // alice: one, barrier
      [pattern(Patterns.NotifyUsers)]: 1, // carol
      [pattern(Patterns.NotifyBroadcast)]: 3, // alice, carol, dave
    });
    assert.deepEqual(afterA.changesSince(beforeA, 'herald_connections_accepted_total'), { '{}': 2 });
    assert.deepEqual(afterB.changesSince(beforeB, 'herald_connections_accepted_total'), { '{}': 3 });

    assert.deepEqual(afterA.changesSince(beforeA, 'herald_connections_rejected_total'), {
      [labelKey({ reason: AuthFailureReasons.MissingToken })]: 1,
      [labelKey({ reason: AuthFailureReasons.InvalidToken })]: 1,
    });
    assert.deepEqual(afterB.changesSince(beforeB, 'herald_connections_rejected_total'), { [labelKey({ reason: AuthFailureReasons.ExpiredToken })]: 1 });

    assert.deepEqual(afterA.changesSince(beforeA, 'herald_disconnections_total'), {
      [labelKey({ reason: DisconnectReasonLabels.ClientNamespaceDisconnect })]: 1,
    });
    assert.deepEqual(afterB.changesSince(beforeB, 'herald_disconnections_total'), {
      [labelKey({ reason: DisconnectReasonLabels.TransportError })]: 1,
      [labelKey({ reason: DisconnectReasonLabels.ForcedClose })]: 1,
    });
    assert.equal(afterA.value('herald_connected_sockets'), 1);
    assert.equal(afterB.value('herald_connected_sockets'), 1);

    assert.deepEqual(afterA.changesSince(beforeA, 'herald_client_messages_received_total'), { [labelKey({ event: ClientMessageLabels.Unexpected })]: 1 });
    assert.deepEqual(afterB.changesSince(beforeB, 'herald_client_messages_received_total'), {}, 'an oversized frame is never decoded into an event');
    assert.deepEqual(afterA.changesSince(beforeA, 'herald_client_errors_total'), { [labelKey({ kind: ClientErrorKinds.TransportUnknown })]: 1 });
    assert.deepEqual(afterB.changesSince(beforeB, 'herald_client_errors_total'), {
      [labelKey({ kind: ClientErrorKinds.SessionIdUnknown })]: 1,
      [labelKey({ kind: ClientErrorKinds.SocketError })]: 1,
      // carol's frame over MAX_CLIENT_PACKET_BYTES.
      [labelKey({ kind: ClientErrorKinds.PacketTooLarge })]: 1,
    });

    // Latency: one observation per command that reached a socket on the instance.
    for (const [after, before] of [
      [afterA, beforeA],
      [afterB, beforeB],
    ] as const) {
      assert.deepEqual(after.histogramCountChangesSince(before, 'herald_delivery_latency_seconds'), {
        [pattern(Patterns.NotifyUser)]: 2,
        [pattern(Patterns.NotifyUsers)]: 1,
        [pattern(Patterns.NotifyBroadcast)]: 1,
      });
      const broadcastAfter = after.histogram('herald_delivery_latency_seconds', { pattern: Patterns.NotifyBroadcast });
      const broadcastBefore = before.histogram('herald_delivery_latency_seconds', { pattern: Patterns.NotifyBroadcast });
      assert.equal(broadcastAfter.buckets['10'], broadcastBefore.buckets['10'], 'a minute-old sentAt is beyond the 10 s bucket');
      assert.equal(broadcastAfter.buckets['+Inf'], broadcastBefore.buckets['+Inf'] + 1);
      assert.ok(broadcastAfter.sum - broadcastBefore.sum >= 60, 'latency is measured from sentAt, in seconds');
      const userAfter = after.histogram('herald_delivery_latency_seconds', { pattern: Patterns.NotifyUser });
      const userBefore = before.histogram('herald_delivery_latency_seconds', { pattern: Patterns.NotifyUser });
      assert.equal(userAfter.buckets['10'] - userBefore.buckets['10'], 2, 'without sentAt, latency runs from receipt');
    }
  });

  it('herald_redis_connected drops to 0 for every role while Redis is down and returns to 1 after', async () => {
    const roles = Object.values(RedisClientRoles);
    const allRoles = async (instance: GatewayHandle, value: number): Promise<boolean> => {
      const scrape = await MetricsSnapshot.scrape(instance.url);
      return roles.every((role) => scrape.value('herald_redis_connected', { role }) === value);
    };
    await topology.redis.kill();
    await waitUntil(async () => (await allRoles(a, 0)) && (await allRoles(b, 0)), 'every Redis role to read 0', 20_000);
    await topology.redis.launch();
    await waitUntil(async () => (await allRoles(a, 1)) && (await allRoles(b, 1)), 'every Redis role to read 1 again', 20_000);
  });
});
