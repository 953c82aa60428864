import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { COMMAND_GROUP, COMMAND_STREAM, DEAD_LETTER_STREAM, INGEST_LEASE_KEY, encodeCommand, Patterns, replyChannel } from '@herald/contracts';
import { Redis } from 'ioredis';
import { RedisServer } from '../../../../test/support/redis-server.js';
import { waitUntil } from '../../../../test/support/wait.js';
import { HeraldCommandServer, type CommandContext } from './herald-command.server.js';
import { MalformedCommand } from './command.deserializer.js';

type Call = { pattern: string; data: unknown; source: string; consumer?: string };

/** The transport on a real redis-server, with handlers registered the way Nest registers @EventPattern methods. */
describe('HeraldCommandServer', () => {
  let redis: RedisServer;
  let client: Redis;
  const servers: HeraldCommandServer[] = [];
  let calls: Call[];
  /** Payloads whose handler throws, and how often it was tried. */
  let failing: Map<string, number>;
  const deadLettered: string[] = [];

  const start = async (
    consumer: string,
    ordered = true,
    timing: { ackDelayMs?: number; claimIdleMs?: number; readWaitMs?: number } = {},
  ): Promise<HeraldCommandServer> => {
    const server = new HeraldCommandServer({
      redisUrl: redis.url,
      consumer,
      claimIdleMs: timing.claimIdleMs ?? 200,
      maxAttempts: 3,
      ordered,
      leaseMs: 300,
      ackDelayMs: timing.ackDelayMs,
      readWaitMs: timing.readWaitMs,
      onDeadLetter: (pattern) => deadLettered.push(pattern),
    });
    const handler = (pattern: string) => async (data: unknown, context: CommandContext) => {
      const key = JSON.stringify(data);
      const tries = failing.get(key);
      if (tries !== undefined) {
        failing.set(key, tries + 1);
        throw new Error(`cannot store ${key}`);
      }
      calls.push({ pattern, data: data instanceof MalformedCommand ? data.reason : data, source: context.source, consumer });
    };
    server.addHandler(Patterns.NotifyUser, handler(Patterns.NotifyUser), true);
    server.addHandler(Patterns.PresenceQuery, async (data: unknown) => ({ echo: data }), false);
    await new Promise<void>((resolve, reject) =>
      server.listen((error?: unknown) => (error ? reject(error instanceof Error ? error : new Error('listen failed')) : resolve())),
    );
    servers.push(server);
    return server;
  };

  const xadd = (pattern: string, data: unknown) => client.xadd(COMMAND_STREAM, '*', 'pattern', pattern, 'data', JSON.stringify(data));

  before(async () => {
    redis = await RedisServer.start();
    client = new Redis(redis.url);
  });

  beforeEach(async () => {
    await Promise.all(servers.splice(0).map((server) => server.close()));
    await client.flushall();
    calls = [];
    failing = new Map();
    deadLettered.length = 0;
  });

  after(async () => {
    await Promise.all(servers.map((server) => server.close()));
    client.disconnect();
    await redis.stop();
  });

  it('hands each stream entry to its handler in order, then acknowledges and deletes it', async () => {
    await start('a');
    for (let n = 1; n <= 5; n++) await xadd(Patterns.NotifyUser, { n });
    await waitUntil(() => calls.length === 5, 'five handled');
    assert.deepEqual(
      calls.map((call) => call.data),
      [1, 2, 3, 4, 5].map((n) => ({ n })),
    );
    assert.ok(calls.every((call) => call.source === 'stream'));
    await waitUntil(async () => (await client.xlen(COMMAND_STREAM)) === 0, 'entries deleted');
    const pending = (await client.xpending(COMMAND_STREAM, COMMAND_GROUP)) as [number, ...unknown[]];
    assert.equal(pending[0], 0, 'nothing left pending');
  });

  it('acknowledges handled entries together after a while, and at once when it closes', async () => {
    const server = await start('a', true, { ackDelayMs: 60_000, claimIdleMs: 600_000 });
    for (let n = 1; n <= 5; n++) await xadd(Patterns.NotifyUser, { n });
    await waitUntil(() => calls.length === 5, 'five handled');
    const pendingOf = async () => ((await client.xpending(COMMAND_STREAM, COMMAND_GROUP)) as [number, ...unknown[]])[0];
    assert.equal(await pendingOf(), 5, 'handled, not acknowledged yet');
    const closing = Date.now();
    await server.close();
    assert.ok(Date.now() - closing < 5_000, 'close did not wait for the acknowledgement delay');
    assert.equal(await pendingOf(), 0, 'acknowledged on close');
    assert.equal(await client.xlen(COMMAND_STREAM), 0, 'and deleted');
  });

  it('after a read of several entries waits readWaitMs before the next; after a read of one, reads again at once', async () => {
    await start('a', true, { readWaitMs: 1_500 });
    // One entry at a time: each read brings one, so none waits.
    const quietStart = Date.now();
    for (let n = 1; n <= 3; n++) {
      await xadd(Patterns.NotifyUser, { n });
      await waitUntil(() => calls.length === n, `command ${n}`);
    }
    assert.ok(Date.now() - quietStart < 1_500, 'a quiet stream is read without waiting');
    // Two at once: that read brings both, and the next read (for the third) waits.
    await client
      .multi()
      .xadd(COMMAND_STREAM, '*', 'pattern', Patterns.NotifyUser, 'data', '{"n":4}')
      .xadd(COMMAND_STREAM, '*', 'pattern', Patterns.NotifyUser, 'data', '{"n":5}')
      .exec();
    await waitUntil(() => calls.length === 5, 'the pair');
    const pairAt = Date.now();
    await xadd(Patterns.NotifyUser, { n: 6 });
    await waitUntil(() => calls.length === 6, 'the one after the pair', 5_000);
    assert.ok(Date.now() - pairAt >= 1_000, 'the read after a busy one waited');
    assert.deepEqual(
      calls.map((call) => call.data),
      [1, 2, 3, 4, 5, 6].map((n) => ({ n })),
    );
  });

  it('handles commands appended before any instance ran', async () => {
    await client.xadd(COMMAND_STREAM, '*', 'pattern', Patterns.NotifyUser, 'data', '{"early":true}');
    await start('late');
    await waitUntil(() => calls.length === 1, 'the early command');
    assert.deepEqual(calls[0]?.data, { early: true });
  });

  it('ordered: one instance (the lease holder) reads, in stream order; the next takes over at once when it closes', async () => {
    const first = await start('x');
    await Promise.all([start('y'), start('z')]);
    for (let n = 0; n < 30; n++) await xadd(Patterns.NotifyUser, { n });
    await waitUntil(() => calls.length >= 30, 'thirty handled');
    assert.deepEqual(new Set(calls.map((call) => call.consumer)), new Set(['x']));
    await first.close();
    const closedAt = Date.now();
    for (let n = 30; n < 60; n++) await xadd(Patterns.NotifyUser, { n });
    await waitUntil(() => calls.length >= 60, 'sixty handled');
    assert.ok(Date.now() - closedAt < 1000, 'the lease was released, not left to expire');
    await waitUntil(async () => (await client.xlen(COMMAND_STREAM)) === 0, 'all acknowledged');
    assert.deepEqual(
      calls.map((call) => call.data),
      Array.from({ length: 60 }, (_, n) => ({ n })),
      'each once, in stream order',
    );
    assert.equal(new Set(calls.slice(30).map((call) => call.consumer)).size, 1);
  });

  it('ordered: after a reader dies with entries in hand, the next takes over when its lease expires and handles those first', async () => {
    await client.xgroup('CREATE', COMMAND_STREAM, COMMAND_GROUP, '0', 'MKSTREAM');
    await xadd(Patterns.NotifyUser, { n: 1 });
    await client.xreadgroup('GROUP', COMMAND_GROUP, 'ghost', 'COUNT', 10, 'STREAMS', COMMAND_STREAM, '>');
    await client.set(INGEST_LEASE_KEY, 'ghost', 'PX', 300);
    await start('heir');
    await xadd(Patterns.NotifyUser, { n: 2 });
    await waitUntil(() => calls.length === 2, 'both handled', 10_000);
    assert.deepEqual(
      calls.map((call) => call.data),
      [{ n: 1 }, { n: 2 }],
    );
  });

  it('unordered: every instance reads, and still each command once', async () => {
    await Promise.all([start('x', false), start('y', false), start('z', false)]);
    for (let n = 0; n < 60; n++) void xadd(Patterns.NotifyUser, { n });
    await waitUntil(() => calls.length >= 60, 'sixty handled');
    await waitUntil(async () => (await client.xlen(COMMAND_STREAM)) === 0, 'all acknowledged');
    assert.equal(calls.length, 60, 'no command handled twice');
    assert.ok(new Set(calls.map((call) => call.consumer)).size > 1, 'more than one instance read');
  });

  it('retries a failing command after the idle time, and dead-letters it after maxAttempts with its error; others go on', async () => {
    await start('a');
    failing.set(JSON.stringify({ poison: 1 }), 0);
    await xadd(Patterns.NotifyUser, { poison: 1 });
    await xadd(Patterns.NotifyUser, { fine: 2 });
    await waitUntil(() => calls.some((call) => JSON.stringify(call.data) === '{"fine":2}'), 'the next command handled');
    await waitUntil(async () => (await client.xlen(DEAD_LETTER_STREAM)) === 1, 'the poison dead-lettered', 10_000);
    assert.equal(failing.get(JSON.stringify({ poison: 1 })), 3, 'tried maxAttempts times');
    const [[, fields]] = (await client.xrange(DEAD_LETTER_STREAM, '-', '+')) as Array<[string, string[]]>;
    const record = Object.fromEntries(Array.from({ length: fields.length / 2 }, (_, i) => [fields[2 * i], fields[2 * i + 1]]));
    assert.equal(record['pattern'], Patterns.NotifyUser);
    assert.equal(record['data'], '{"poison":1}');
    assert.equal(record['attempts'], '3');
    assert.equal(record['error'], 'cannot store {"poison":1}');
    assert.equal(record['consumer'], 'a');
    assert.match(record['entry'] ?? '', /^\d+-\d+$/);
    assert.deepEqual(deadLettered, [Patterns.NotifyUser]);
    assert.equal(await client.xlen(COMMAND_STREAM), 0);
  });

  it("takes over a dead instance's unacknowledged entries", async () => {
    // Entries read by a consumer that then vanished: pending, never acknowledged.
    await client.xgroup('CREATE', COMMAND_STREAM, COMMAND_GROUP, '0', 'MKSTREAM');
    await xadd(Patterns.NotifyUser, { orphan: 1 });
    await client.xreadgroup('GROUP', COMMAND_GROUP, 'dead-instance', 'COUNT', 10, 'STREAMS', COMMAND_STREAM, '>');
    await start('survivor');
    await waitUntil(() => calls.length === 1, 'reclaimed', 10_000);
    assert.deepEqual(calls[0]?.data, { orphan: 1 });
    await waitUntil(async () => (await client.xlen(COMMAND_STREAM)) === 0, 'acknowledged by the survivor');
  });

  it('dead-letters at once an entry with an unknown pattern, and hands one without JSON data to the handler as malformed', async () => {
    await start('a');
    await xadd('notify.nobody', { x: 1 });
    await client.xadd(COMMAND_STREAM, '*', 'pattern', Patterns.NotifyUser, 'data', '{not json');
    await waitUntil(async () => (await client.xlen(DEAD_LETTER_STREAM)) === 1 && calls.length === 1, 'both dealt with');
    assert.deepEqual(calls[0], { pattern: Patterns.NotifyUser, data: 'not_json', source: 'stream', consumer: 'a' });
    assert.deepEqual(deadLettered, ['notify.nobody']);
  });

  it('still takes pub/sub commands in the Nest wire format, and answers requests on the reply channel', async () => {
    await start('a');
    await client.publish(Patterns.NotifyUser, encodeCommand(Patterns.NotifyUser, { via: 'pubsub' }));
    await waitUntil(() => calls.length === 1, 'the pub/sub command');
    assert.deepEqual(calls[0], { pattern: Patterns.NotifyUser, data: { via: 'pubsub' }, source: 'pubsub', consumer: 'a' });
    const subscriber = client.duplicate();
    const replies: unknown[] = [];
    subscriber.on('message', (_channel: string, message: string) => replies.push(JSON.parse(message)));
    await subscriber.subscribe(replyChannel(Patterns.PresenceQuery));
    await client.publish(Patterns.PresenceQuery, JSON.stringify({ pattern: Patterns.PresenceQuery, data: { userId: 'u' }, id: 'req-1' }));
    await waitUntil(() => replies.length > 0, 'the reply');
    assert.deepEqual(replies[0], { id: 'req-1', response: { echo: { userId: 'u' } }, isDisposed: true });
    subscriber.disconnect();
  });
});
