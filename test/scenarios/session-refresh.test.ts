import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClientRequests, Patterns, RequestErrorCodes, SessionEndReasons, type SessionRefreshReply } from '@herald/contracts';
import { decodeJwt } from 'jose';
import {
  MetricsSnapshot,
  RawPublisher,
  cleanUp,
  connectClient,
  signToken,
  startTopology,
  waitUntil,
  type GatewayHandle,
  type TestClient,
  type Topology,
} from '@herald/testing';

/** The token's `exp` in epoch milliseconds. */
const expiryOf = (token: string): number => (decodeJwt(token).exp ?? 0) * 1000;

describe('session.refresh: a fresh token moves the end of a session without reconnecting', () => {
  let topology: Topology;
  let gateway: GatewayHandle;
  let publisher: RawPublisher;
  const clients: TestClient[] = [];

  before(async () => {
    topology = await startTopology({ gateways: [{}] });
    gateway = topology.at(0);
    publisher = await RawPublisher.connect(topology.redis.url);
  });

  after(async () => {
    await cleanUp(...clients, publisher, topology);
  });

  it('a valid token for the same user: the session outlives the first token, on the same connection, and ends at the new exp', async () => {
    const first = await signToken({ sub: 'renewing', expiresIn: 3 });
    const client = await connectClient(gateway.url, first);
    clients.push(client);
    const second = await signToken({ sub: 'renewing', expiresIn: 6 });

    const reply = await client.request<SessionRefreshReply>(ClientRequests.SessionRefresh, { token: second });
    assert.deepEqual(reply, { exp: expiryOf(second) / 1000 });

    // Past the first token's exp, and past the one-second bucket it would have ended in.
    await waitUntil(() => Date.now() > expiryOf(first) + 1500, "the first token's expiry to be well past", 10_000, 50);
    assert.equal(client.socket.connected, true);
    assert.deepEqual(client.sessionEnds, []);
    assert.deepEqual(client.disconnects, []);
    await publisher.publish(Patterns.NotifyUser, { userId: 'renewing', type: 'after-first-exp', data: {} });
    await client.waitForType('after-first-exp');

    await waitUntil(() => client.disconnects.length > 0, 'the session to end at the refreshed exp', 10_000);
    assert.ok(Date.now() >= expiryOf(second), 'not before the new exp');
    assert.deepEqual(client.sessionEnds, [{ reason: SessionEndReasons.TokenExpired, reconnect: false }]);
    assert.deepEqual(client.disconnects, ['io server disconnect']);
  });

  it('another sub, a bad signature, an expired or malformed token: an error reply, and the session still ends at the original exp', async () => {
    const original = await signToken({ sub: 'victim', expiresIn: 3 });
    const client = await connectClient(gateway.url, original);
    clients.push(client);
    const before = await MetricsSnapshot.scrape(gateway.url);

    const attempts: Array<[string, unknown, string, string]> = [
      ['another user', { token: await signToken({ sub: 'mallory', expiresIn: 3600 }) }, RequestErrorCodes.InvalidToken, 'invalid_token: the token is for another user'],
      [
        'a bad signature',
        { token: await signToken({ sub: 'victim', expiresIn: 3600, secret: 'someone-elses-secret-0123456789' }) },
        RequestErrorCodes.InvalidToken,
        'invalid_token: the token is not valid here',
      ],
      ['an expired token', { token: await signToken({ sub: 'victim', expiresIn: -60 }) }, RequestErrorCodes.InvalidToken, 'expired_token: the token has expired'],
      ['garbage', { token: 'not-a-jwt' }, RequestErrorCodes.InvalidToken, 'invalid_token: the token is not valid here'],
      ['no token', {}, RequestErrorCodes.InvalidRequest, 'token: Invalid input: expected string, received undefined'],
    ];
    for (const [what, payload, code, message] of attempts) {
      assert.deepEqual(await client.request(ClientRequests.SessionRefresh, payload), { error: { code, message } }, what);
    }
    assert.equal(client.socket.connected, true, 'a refused refresh does not disconnect');

    const after = await MetricsSnapshot.scrape(gateway.url);
    assert.deepEqual(after.changesSince(before, 'herald_session_refreshes_total'), {
      '{outcome="other_user"}': 1,
      '{outcome="invalid_token"}': 2,
      '{outcome="expired_token"}': 1,
    });

    await waitUntil(() => client.disconnects.length > 0, 'the session to end at its original exp', 10_000);
    const endedAt = Date.now();
    assert.ok(endedAt >= expiryOf(original) && endedAt < expiryOf(original) + 2500, `ended ${endedAt - expiryOf(original)} ms after the original exp`);
    assert.deepEqual(client.sessionEnds, [{ reason: SessionEndReasons.TokenExpired, reconnect: false }]);
  });
});
