import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Patterns } from '@herald/contracts';
import { HeraldPublisher } from '@herald/publisher';
import { RawPublisher, TestClient, connectClient, signToken, startTopology, waitUntil, type Topology, cleanUp } from '@herald/testing';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

for (const instanceCount of [1, 3]) {
  describe(`delivery across ${instanceCount} instance(s)`, () => {
    let topology: Topology;
    let publisher: RawPublisher;
    let sdk: HeraldPublisher;
    const clients: TestClient[] = [];

    const device = async (user: string, instance: number): Promise<TestClient> => {
      const client = await connectClient(topology.at(instance).url, await signToken({ sub: user }));
      clients.push(client);
      return client;
    };

    /** Sends a barrier notification to `user` and waits until every listed device got it: earlier commands have been handled. */
    const barrier = async (tag: string, user: string, ...devices: TestClient[]): Promise<void> => {
      await publisher.publish(Patterns.NotifyUser, { userId: user, type: `barrier-${tag}`, data: null });
      await Promise.all(devices.map((client) => client.waitForType(`barrier-${tag}`)));
    };

    before(async () => {
      topology = await startTopology({ gateways: instanceCount });
      publisher = await RawPublisher.connect(topology.redis.url);
      sdk = new HeraldPublisher({ redisUrl: topology.redis.url });
      await sdk.connect();
    });

    after(async () => {
      await cleanUp(...clients, sdk, publisher, topology);
    });

    it('gives each device of a user exactly one copy, with the same generated id, and nothing to other users', async () => {
      const phone = await device('alice', 0);
      const laptop = await device('alice', 1);
      const bob = await device('bob', 2);

      const receivers = await publisher.publish(Patterns.NotifyUser, { userId: 'alice', type: 'greeting', data: { text: 'hi' }, priority: 'ignored' });
      assert.equal(receivers, instanceCount, 'every instance subscribes to notify.user once');
      await barrier('one', 'alice', phone, laptop);
      await barrier('one-bob', 'bob', bob);

      const [onPhone] = phone.ofType('greeting');
      const [onLaptop] = laptop.ofType('greeting');
      assert.equal(phone.ofType('greeting').length, 1);
      assert.equal(laptop.ofType('greeting').length, 1);
      assert.equal(onLaptop.id, onPhone.id);
      assert.match(onPhone.id, UUID);
      assert.deepEqual(onPhone.data, { text: 'hi' });
      assert.ok(!Number.isNaN(Date.parse(onPhone.createdAt)));
      assert.equal(bob.ofType('greeting').length, 0);
    });

    it('keeps a publisher-given id and uses sentAt as createdAt', async () => {
      const phone = await device('dora', 0);
      const tablet = await device('dora', 2);
      const sentAt = Date.UTC(2026, 0, 2, 3, 4, 5, 678);
      await publisher.publish(Patterns.NotifyUser, { userId: 'dora', type: 'given-id', data: [1, 2], id: 'order-42', sentAt });
      const [received] = await phone.waitForType('given-id');
      await tablet.waitForType('given-id');
      assert.deepEqual(received, { id: 'order-42', type: 'given-id', data: [1, 2], createdAt: '2026-01-02T03:04:05.678Z', cursor: received.cursor });
      assert.equal(typeof received.cursor, 'string');
    });

    it('delivers nothing for a user with no sockets, and nothing breaks', async () => {
      const witness = await device('erin', 1);
      await publisher.publish(Patterns.NotifyUser, { userId: 'nobody-home', type: 'lost', data: {} });
      await barrier('nobody', 'erin', witness);
      assert.equal(witness.ofType('lost').length, 0);
      for (const instance of topology.gateways) {
        assert.equal(await instance.isReady(), true);
        assert.deepEqual(
          (await instance.logs()).filter((record) => Number(record['level']) >= 50),
          [],
          `${instance.instanceId} logged errors`,
        );
      }
    });

    it('notify.users reaches every listed user once per device (duplicates in the list collapse) and no one else', async () => {
      const frank1 = await device('frank', 0);
      const frank2 = await device('frank', 1);
      const gina = await device('gina', 2);
      const hank = await device('hank', 0);
      await publisher.publish(Patterns.NotifyUsers, { userIds: ['frank', 'gina', 'frank', 'ghost'], type: 'team', data: { n: 1 } });
      await barrier('users-frank', 'frank', frank1, frank2);
      await barrier('users-gina', 'gina', gina);
      await barrier('users-hank', 'hank', hank);
      assert.equal(frank1.ofType('team').length, 1);
      assert.equal(frank2.ofType('team').length, 1);
      assert.equal(gina.ofType('team').length, 1);
      assert.equal(hank.ofType('team').length, 0);
      assert.equal(frank1.ofType('team')[0].id, gina.ofType('team')[0].id);
    });

    it('notify.broadcast reaches every connected socket exactly once', async () => {
      const everyone = [...clients];
      assert.ok(everyone.length >= 3);
      const id = await sdk.broadcast({ type: 'maintenance', data: { at: '02:00' } });
      await Promise.all(everyone.map((client) => client.waitForType('maintenance')));
      await publisher.publish(Patterns.NotifyBroadcast, { type: 'barrier-broadcast', data: null });
      await Promise.all(everyone.map((client) => client.waitForType('barrier-broadcast')));
      for (const client of everyone) {
        assert.deepEqual(
          client.ofType('maintenance').map((envelope) => envelope.id),
          [id],
        );
      }
    });

    it('presence.query counts the sockets of a user on every instance', async () => {
      await device('ivan', 0);
      await device('ivan', 1);
      await device('ivan', 2);
      assert.deepEqual(await sdk.presence('ivan'), { userId: 'ivan', online: true, connections: 3 });
      assert.deepEqual(await sdk.presence('nobody-home'), { userId: 'nobody-home', online: false, connections: 0 });
    });

    it('presence.query drops a socket as soon as it disconnects', async () => {
      const jane = await device('jane', 1);
      assert.equal((await sdk.presence('jane')).connections, 1);
      jane.close();
      await waitUntil(async () => (await sdk.presence('jane')).connections === 0, 'jane to go offline');
    });
  });
}
