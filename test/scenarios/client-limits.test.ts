import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClientRequests, RequestErrorCodes, SessionEndReasons } from '@herald/contracts';
import { HeraldPublisher } from '@herald/publisher';
import { cleanUp, connectClient, GatewayProcess, MetricsSnapshot, RedisServer, signToken, waitUntil, type TestClient } from '@herald/testing';

const PER_SECOND = 5;
const BURST = 5;
const MAX_PACKET = 4096;

/**
 * What one client may send: packets of at most MAX_CLIENT_PACKET_BYTES, at CLIENT_PACKETS_PER_SECOND with bursts of
 * CLIENT_PACKET_BURST. Over the rate a request gets `rate_limited`; a client that keeps flooding is ended; a client that
 * sends an oversized packet loses its connection. Nobody else notices.
 */
describe(`client packet limits (${PER_SECOND}/s, burst ${BURST}, ${MAX_PACKET} bytes)`, () => {
  let redis: RedisServer;
  let gateway: GatewayProcess;
  let sdk: HeraldPublisher;
  const clients: TestClient[] = [];

  const connect = async (user: string): Promise<TestClient> => {
    const client = await connectClient(gateway.url, await signToken({ sub: user }));
    clients.push(client);
    return client;
  };

  before(async () => {
    redis = await RedisServer.start();
    gateway = await GatewayProcess.start({
      redisUrl: redis.url,
      env: { CLIENT_PACKETS_PER_SECOND: String(PER_SECOND), CLIENT_PACKET_BURST: String(BURST), MAX_CLIENT_PACKET_BYTES: String(MAX_PACKET) },
    });
    sdk = new HeraldPublisher({ redisUrl: redis.url });
    await sdk.connect();
  });

  after(async () => {
    for (const client of clients) client.close();
    await cleanUp(sdk, gateway, redis);
  });

  it('answers a burst, refuses beyond it with rate_limited, ends a flood with packet_rate_exceeded; the same user elsewhere is untouched', async () => {
    const before = await MetricsSnapshot.scrape(gateway.url);
    const greedy = await connect('flooder');
    const calm = await connect('flooder');
    const replies = await Promise.all(Array.from({ length: BURST }, () => greedy.request(ClientRequests.InboxList, { limit: 1 })));
    for (const reply of replies) assert.ok(typeof reply === 'object' && reply !== null && 'items' in reply, `a page: ${JSON.stringify(reply)}`);
    assert.deepEqual(await greedy.request(ClientRequests.InboxList, { limit: 1 }), {
      error: { code: RequestErrorCodes.RateLimited, message: 'too many requests: slow down' },
    });
    // It goes on without waiting: a burst more in a row while refused ends it.
    for (let index = 0; index < BURST; index++) greedy.sendUnexpected(ClientRequests.InboxList, { limit: 1 });
    await waitUntil(() => greedy.disconnects.length === 1, 'the flooding client to be disconnected');
    assert.deepEqual(greedy.sessionEnds, [{ reason: SessionEndReasons.PacketRateExceeded, reconnect: false }]);
    assert.deepEqual(greedy.disconnects, ['io server disconnect']);

    const after = await MetricsSnapshot.scrape(gateway.url);
    assert.deepEqual(after.changesSince(before, 'herald_sessions_ended_total'), { '{reason="packet_rate_exceeded"}': 1 });
    // The other device of the same user still gets its requests answered and its notifications.
    const page = await calm.request(ClientRequests.InboxList, { limit: 1 });
    assert.ok(typeof page === 'object' && page !== null && 'items' in page, `a page: ${JSON.stringify(page)}`);
    await sdk.notifyUser({ userId: 'flooder', type: 'after-flood', data: {} });
    await calm.waitForType('after-flood');
  });

  it('closes the connection of a client that sends a packet over MAX_CLIENT_PACKET_BYTES, and only that one', async () => {
    const before = await MetricsSnapshot.scrape(gateway.url);
    const big = await connect('big-sender');
    const small = await connect('small-sender');
    big.sendUnexpected(ClientRequests.InboxRead, { ids: ['x'.repeat(MAX_PACKET)] });
    await waitUntil(() => big.disconnects.length === 1, 'the oversized sender to be disconnected');
    assert.deepEqual(big.disconnects, ['transport close']);
    const after = await MetricsSnapshot.scrape(gateway.url);
    assert.deepEqual(after.changesSince(before, 'herald_disconnections_total'), { '{reason="transport_error"}': 1 });
    assert.deepEqual(after.changesSince(before, 'herald_client_errors_total'), { '{kind="packet_too_large"}': 1 });
    // A packet just under the limit is a request like any other (refused for its content, not its size).
    const reply = await small.request(ClientRequests.InboxRead, { ids: ['y'.repeat(MAX_PACKET - 200)] });
    assert.deepEqual((reply as { error: { code: string } }).error.code, RequestErrorCodes.InvalidRequest);
    assert.equal(small.disconnects.length, 0);
  });
});
