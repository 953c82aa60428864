import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  cleanUp,
  connectClient,
  engineRequest,
  GatewayProcess,
  NginxProcess,
  RedisServer,
  SilentWebSocketPeer,
  signToken,
  waitUntil,
  type TestClient,
} from '@herald/testing';

/**
 * nginx's per-address limits (nginx/nginx.conf.template): handshakes (Socket.IO requests without a session id) at a
 * rate with a burst, and open connections; beyond them nginx answers 429 itself and the gateway never sees the request.
 */
describe('edge limits per client address at nginx', () => {
  let redis: RedisServer;
  let gateway: GatewayProcess;
  let rate: NginxProcess;
  let conns: NginxProcess;
  const clients: TestClient[] = [];
  const peers: SilentWebSocketPeer[] = [];

  before(async () => {
    redis = await RedisServer.start();
    gateway = await GatewayProcess.start({ redisUrl: redis.url });
    rate = await NginxProcess.start([gateway.port], { handshakesPerSecond: 1, handshakeBurst: 4, connectionsPerAddress: 1000 });
    conns = await NginxProcess.start([gateway.port], { handshakesPerSecond: 1000, handshakeBurst: 1000, connectionsPerAddress: 3 });
  });

  after(async () => {
    for (const client of clients) client.close();
    for (const peer of peers) peer.destroy();
    await cleanUp(rate, conns, gateway, redis);
  });

  it('refuses handshakes beyond rate + burst with 429 at nginx; an accepted session keeps working; handshakes pass again later', async () => {
    const handshake = () => engineRequest(rate.url, { EIO: '4', transport: 'polling' });
    const statuses = (await Promise.all(Array.from({ length: 12 }, handshake))).map((response) => response.status);
    const accepted = statuses.filter((status) => status === 200).length;
    const limited = statuses.filter((status) => status === 429).length;
    assert.equal(accepted + limited, statuses.length, `only 200 and 429: ${statuses.join(',')}`);
    assert.ok(accepted >= 4 && accepted <= 6, `about 1 + burst 4 accepted: ${statuses.join(',')}`);
    const refusedAtEdge = rate.accessLog().filter((record) => record.status === '429');
    assert.equal(refusedAtEdge.length, limited);
    assert.ok(
      refusedAtEdge.every((record) => record.upstream === '' || record.upstream === '-'),
      'a refused handshake never reached an instance',
    );
    // The bucket refills at 1/s: a real client gets through again, and receives.
    await waitUntil(
      async () => {
        try {
          clients.push(await connectClient(rate.url, await signToken({ sub: 'edge-after-burst' })));
          return true;
        } catch {
          return false;
        }
      },
      'a handshake to pass once the bucket refilled',
      10_000,
      500,
    );
  });

  it('refuses a 4th open connection from one address with 429, and takes one again when one closes', async () => {
    const token = await signToken({ sub: 'edge-conns' });
    for (let index = 0; index < 3; index++) peers.push(await SilentWebSocketPeer.connect(conns.url, token));
    const fourth = await engineRequest(conns.url, { EIO: '4', transport: 'polling' });
    assert.equal(fourth.status, 429);
    peers.pop()?.destroy();
    await waitUntil(async () => (await engineRequest(conns.url, { EIO: '4', transport: 'polling' })).status === 200, 'a free connection slot', 5000, 100);
  });
});
