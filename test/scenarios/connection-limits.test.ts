import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConnectRefusalReasons, LIMITED_MESSAGE, UNAVAILABLE_MESSAGE } from '@herald/contracts';
import { cleanUp, connectClient, expectConnectError, GatewayProcess, MetricsSnapshot, RedisServer, signToken, waitUntil, type TestClient } from '@herald/testing';

const PER_USER = 3;
const LEASE_MS = 2000;

/** Refusal counters of one instance, as `reason -> delta` since `before`. */
const refusalsSince = async (gateway: GatewayProcess, before: MetricsSnapshot): Promise<Record<string, number>> =>
  (await MetricsSnapshot.scrape(gateway.url)).changesSince(before, 'herald_connections_rejected_total');

/**
 * MAX_CONNECTIONS_PER_USER counts a user's sockets over every instance (leases in Redis), frees a slot as soon as a
 * socket disconnects, and forgets the sockets of a crashed instance within CONNECTION_LEASE_MS. Other users never
 * notice a user at the limit.
 */
describe(`connection limits: ${PER_USER} per user over 2 instances (CONNECTION_LEASE_MS=${LEASE_MS})`, () => {
  let redis: RedisServer;
  let gateways: GatewayProcess[] = [];
  const clients: TestClient[] = [];

  const connect = async (gateway: GatewayProcess, user: string): Promise<TestClient> => {
    const client = await connectClient(gateway.url, await signToken({ sub: user }));
    clients.push(client);
    return client;
  };

  before(async () => {
    redis = await RedisServer.start();
    const env = { MAX_CONNECTIONS_PER_USER: String(PER_USER), CONNECTION_LEASE_MS: String(LEASE_MS) };
    gateways = await Promise.all([GatewayProcess.start({ redisUrl: redis.url, env }), GatewayProcess.start({ redisUrl: redis.url, env })]);
  });

  after(async () => {
    for (const client of clients) client.close();
    await cleanUp(...gateways, redis);
  });

  it('refuses the 4th socket of a user with too_many_connections on either instance; a disconnect frees a slot; other users are unaffected', async () => {
    const [a, b] = gateways;
    const before = [await MetricsSnapshot.scrape(a.url), await MetricsSnapshot.scrape(b.url)];
    const first = await connect(a, 'greedy');
    await connect(b, 'greedy');
    await connect(a, 'greedy');
    const token = await signToken({ sub: 'greedy' });
    for (const gateway of gateways) {
      const refused = await expectConnectError(gateway.url, token);
      assert.deepEqual(refused, { message: LIMITED_MESSAGE, data: { reason: ConnectRefusalReasons.TooManyConnections } });
    }
    assert.deepEqual(await refusalsSince(a, before[0]), { '{reason="too_many_connections"}': 1 });
    assert.deepEqual(await refusalsSince(b, before[1]), { '{reason="too_many_connections"}': 1 });

    // Someone else connects as usual, on both instances.
    await connect(a, 'neighbour');
    await connect(b, 'neighbour');

    first.close();
    await waitUntil(
      async () => {
        try {
          await connect(b, 'greedy');
          return true;
        } catch {
          return false;
        }
      },
      'a slot for greedy once one of its sockets disconnected',
      5000,
      50,
    );
    assert.ok(a.logsWith('handshake refused').length >= 1);
  });

  it('forgets the sockets of a crashed instance within one lease, and not before', async () => {
    const [a, b] = gateways;
    for (let index = 0; index < PER_USER; index++) await connect(b, 'crashed');
    const token = await signToken({ sub: 'crashed' });
    b.process.signal('SIGKILL');
    await b.process.exited;
    const killedAt = Date.now();
    // Their leases are still live: the limit holds through the crash (no burst of extra sockets)...
    const refused = await expectConnectError(a.url, token);
    assert.equal(refused.data?.reason, ConnectRefusalReasons.TooManyConnections);
    assert.ok(Date.now() - killedAt < LEASE_MS, 'the refusal came while the leases were live');
    // ...and once they expire, the user's devices are welcome again, up to the limit.
    await waitUntil(
      async () => {
        try {
          await connect(a, 'crashed');
          return true;
        } catch {
          return false;
        }
      },
      'the crashed instance leases to expire',
      LEASE_MS * 4,
      100,
    );
    assert.ok(Date.now() - killedAt >= LEASE_MS - 500, `admitted ${Date.now() - killedAt} ms after the crash`);
  });
});

describe('connection limits: MAX_CONNECTIONS_PER_INSTANCE=2', () => {
  let redis: RedisServer;
  let gateway: GatewayProcess;
  const clients: TestClient[] = [];

  before(async () => {
    redis = await RedisServer.start();
    gateway = await GatewayProcess.start({ redisUrl: redis.url, env: { MAX_CONNECTIONS_PER_INSTANCE: '2' } });
  });

  after(async () => {
    for (const client of clients) client.close();
    await cleanUp(gateway, redis);
  });

  it('refuses the third socket with unavailable / instance_full, before looking at its token, and takes one again once a socket left', async () => {
    const before = await MetricsSnapshot.scrape(gateway.url);
    clients.push(await connectClient(gateway.url, await signToken({ sub: 'u1' })));
    const second = await connectClient(gateway.url, await signToken({ sub: 'u2' }));
    clients.push(second);
    assert.deepEqual(await expectConnectError(gateway.url, await signToken({ sub: 'u3' })), {
      message: UNAVAILABLE_MESSAGE,
      data: { reason: ConnectRefusalReasons.InstanceFull },
    });
    // A bad token is refused for the same reason: the instance did not spend a signature check on it.
    assert.deepEqual((await expectConnectError(gateway.url, 'not-a-token')).data, { reason: ConnectRefusalReasons.InstanceFull });
    assert.deepEqual(await refusalsSince(gateway, before), { '{reason="instance_full"}': 2 });
    second.close();
    await waitUntil(
      async () => {
        try {
          clients.push(await connectClient(gateway.url, await signToken({ sub: 'u3' })));
          return true;
        } catch {
          return false;
        }
      },
      'room on the instance',
      5000,
      50,
    );
  });
});
