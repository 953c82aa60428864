import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuthFailureReasons, Patterns, SessionEndReasons, UNAUTHORIZED_MESSAGE } from '@herald/contracts';
import {
  RawPublisher,
  connectClient,
  expectConnectError,
  signToken,
  startTopology,
  unsignedToken,
  waitUntil,
  type GatewayHandle,
  type TestClient,
  type Topology,
  cleanUp,
} from '@herald/testing';

describe('client authentication', () => {
  let topology: Topology;
  let gateway: GatewayHandle;
  let strict: GatewayHandle;
  let publisher: RawPublisher;
  const clients: TestClient[] = [];

  before(async () => {
    topology = await startTopology({ gateways: [{}, { env: { JWT_ISSUER: 'https://auth.example', JWT_AUDIENCE: 'herald' } }] });
    [gateway, strict] = [topology.at(0), topology.at(1)];
    publisher = await RawPublisher.connect(topology.redis.url);
  });

  after(async () => {
    await cleanUp(...clients, publisher, topology);
  });

  const refusals: Array<[string, () => Promise<string | undefined>, string, () => GatewayHandle]> = [
    ['no token at all', async () => undefined, AuthFailureReasons.MissingToken, () => gateway],
    ['an empty token', async () => '', AuthFailureReasons.MissingToken, () => gateway],
    ['a malformed token', async () => 'not-a-jwt', AuthFailureReasons.InvalidToken, () => gateway],
    [
      'a token signed with another secret',
      () => signToken({ sub: 'mallory', secret: 'someone-elses-secret-0123456789' }),
      AuthFailureReasons.InvalidToken,
      () => gateway,
    ],
    ['an unsigned alg:none token', async () => unsignedToken('mallory'), AuthFailureReasons.InvalidToken, () => gateway],
    ['a token without sub', () => signToken({}), AuthFailureReasons.InvalidToken, () => gateway],
    ['an expired token', () => signToken({ sub: 'late', expiresIn: -60 }), AuthFailureReasons.ExpiredToken, () => gateway],
    ['a token from the wrong issuer', () => signToken({ sub: 'x', issuer: 'https://evil.example', audience: 'herald' }), AuthFailureReasons.InvalidToken, () => strict],
    ['a token for the wrong audience', () => signToken({ sub: 'x', issuer: 'https://auth.example', audience: 'other' }), AuthFailureReasons.InvalidToken, () => strict],
  ];

  for (const [name, token, reason, target] of refusals) {
    it(`refuses ${name} with connect_error unauthorized/${reason}`, async () => {
      const error = await expectConnectError(target().url, await token());
      assert.deepEqual(error, { message: UNAUTHORIZED_MESSAGE, data: { reason } });
    });
  }

  it('logs each refusal with its reason', async () => {
    const reasons = (await gateway.logsWith('handshake refused')).map((record) => record['reason']);
    assert.ok(reasons.includes(AuthFailureReasons.MissingToken));
    assert.ok(reasons.includes(AuthFailureReasons.InvalidToken));
    assert.ok(reasons.includes(AuthFailureReasons.ExpiredToken));
  });

  it('accepts issuer and audience that match the configuration', async () => {
    const client = await connectClient(strict.url, await signToken({ sub: 'kim', issuer: 'https://auth.example', audience: 'herald' }));
    clients.push(client);
    assert.equal(client.socket.connected, true);
  });

  it('accepts a token in the Authorization header (non-browser clients)', async () => {
    const token = await signToken({ sub: 'bot' });
    const client = await connectClient(gateway.url, undefined, { extraHeaders: { Authorization: `Bearer ${token}` } });
    clients.push(client);
    await publisher.publish(Patterns.NotifyUser, { userId: 'bot', type: 'header-auth', data: {} });
    await client.waitForType('header-auth');
  });

  it('puts a socket in its own user room only: it receives its notifications and no one else’s', async () => {
    const own = await connectClient(gateway.url, await signToken({ sub: 'lena' }));
    clients.push(own);
    await publisher.publish(Patterns.NotifyUser, { userId: 'someone-else', type: 'not-yours', data: {} });
    await publisher.publish(Patterns.NotifyUser, { userId: 'lena', type: 'yours', data: {} });
    await own.waitForType('yours');
    assert.equal(own.ofType('not-yours').length, 0);
  });

  it('ends the session with reason token_expired when the token expires while connected', async () => {
    const client = await connectClient(gateway.url, await signToken({ sub: 'short-lived', expiresIn: 2 }));
    clients.push(client);
    await waitUntil(() => client.disconnects.length > 0, 'the expiry disconnect', 10_000);
    assert.deepEqual(client.sessionEnds, [{ reason: SessionEndReasons.TokenExpired, reconnect: false }]);
    assert.deepEqual(client.disconnects, ['io server disconnect']);
  });
});
