import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CommandRejectReasons, MAX_USER_IDS, Patterns, encodeCommand } from '@herald/contracts';
import { RawPublisher, connectClient, signToken, startTopology, type TestClient, type Topology, cleanUp } from '@herald/testing';

const MAX_PAYLOAD_BYTES = 1024;

/** Malformed commands of every kind, each with the reason the gateway must log. */
const MALFORMED: Array<{ channel: string; message: string; reason: string }> = [
  { channel: Patterns.NotifyUser, message: 'this is not json', reason: CommandRejectReasons.NotJson },
  { channel: Patterns.NotifyUser, message: '{"pattern":"notify.user","data":', reason: CommandRejectReasons.NotJson },
  { channel: Patterns.NotifyUser, message: '[1,2,3]', reason: CommandRejectReasons.NotAnEnvelope },
  { channel: Patterns.NotifyUser, message: 'null', reason: CommandRejectReasons.NotAnEnvelope },
  { channel: Patterns.NotifyUser, message: '{"pattern":"notify.user"}', reason: CommandRejectReasons.NotAnEnvelope },
  { channel: Patterns.NotifyUser, message: encodeCommand(Patterns.NotifyUser, { type: 'x', data: {} }), reason: CommandRejectReasons.InvalidShape },
  { channel: Patterns.NotifyUser, message: encodeCommand(Patterns.NotifyUser, { userId: 42, data: {} }), reason: CommandRejectReasons.InvalidShape },
  { channel: Patterns.NotifyUser, message: encodeCommand(Patterns.NotifyUser, { userId: 'victim' }), reason: CommandRejectReasons.InvalidShape },
  {
    channel: Patterns.NotifyUser,
    message: encodeCommand(Patterns.NotifyUser, { userId: 'victim', data: {}, sentAt: 'yesterday' }),
    reason: CommandRejectReasons.InvalidShape,
  },
  { channel: Patterns.NotifyUser, message: encodeCommand(Patterns.NotifyUser, { userId: 'victim', data: {}, sentAt: 1e300 }), reason: CommandRejectReasons.InvalidShape },
  { channel: Patterns.NotifyUsers, message: encodeCommand(Patterns.NotifyUsers, { userIds: [], data: {} }), reason: CommandRejectReasons.InvalidShape },
  {
    channel: Patterns.NotifyUsers,
    message: encodeCommand(Patterns.NotifyUsers, { userIds: Array.from({ length: MAX_USER_IDS + 1 }, (_, i) => `u${i}`), data: {} }),
    reason: CommandRejectReasons.InvalidShape,
  },
  { channel: Patterns.NotifyBroadcast, message: encodeCommand(Patterns.NotifyBroadcast, { type: 7, data: {} }), reason: CommandRejectReasons.InvalidShape },
  {
    channel: Patterns.NotifyUser,
    message: encodeCommand(Patterns.NotifyUser, { userId: 'victim', data: { blob: 'x'.repeat(MAX_PAYLOAD_BYTES) } }),
    reason: CommandRejectReasons.PayloadTooLarge,
  },
];

describe('malformed commands', () => {
  let topology: Topology;
  let publisher: RawPublisher;
  let victim: TestClient;
  let bystander: TestClient;

  before(async () => {
    topology = await startTopology({ gateways: 2, gatewayEnv: { MAX_PAYLOAD_BYTES: String(MAX_PAYLOAD_BYTES) } });
    publisher = await RawPublisher.connect(topology.redis.url);
    victim = await connectClient(topology.at(0).url, await signToken({ sub: 'victim' }));
    bystander = await connectClient(topology.at(1).url, await signToken({ sub: 'victim' }));
  });

  after(async () => {
    await cleanUp(victim, bystander, publisher, topology);
  });

  it('rejects a flood of malformed commands with logged reasons while every valid command around them is delivered once', async () => {
    const rounds = 20;
    for (let seq = 0; seq < rounds; seq++) {
      await publisher.publish(Patterns.NotifyUser, { userId: 'victim', type: 'valid', data: { seq } });
      for (const bad of MALFORMED) await publisher.publishRaw(bad.channel, bad.message);
    }
    await publisher.publish(Patterns.NotifyUser, { userId: 'victim', type: 'valid', data: { seq: rounds } });

    for (const device of [victim, bystander]) {
      const received = await device.waitForType('valid', rounds + 1);
      assert.deepEqual(
        received.map((envelope) => (envelope.data as { seq: number }).seq),
        Array.from({ length: rounds + 1 }, (_, seq) => seq),
        'every valid command, once, in order',
      );
      assert.equal(device.notifications.length, rounds + 1, 'nothing malformed reached the client');
      assert.equal(device.socket.connected, true);
    }

    for (const instance of topology.gateways) {
      assert.equal(await instance.isRunning(), true);
      assert.equal(await instance.isReady(), true);
      const logged = await instance.logsWith('command rejected');
      for (const reason of new Set(MALFORMED.map((bad) => bad.reason))) {
        const expected = MALFORMED.filter((bad) => bad.reason === reason).length * rounds;
        assert.equal(logged.filter((record) => record['reason'] === reason).length, expected, `${instance.instanceId}: ${reason}`);
      }
      assert.ok(logged.every((record) => typeof record['detail'] === 'string' && record['detail'].length > 0));
    }
  });
});
