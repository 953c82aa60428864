import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Redis } from 'ioredis';
import { RedisServer } from '../../../test/support/redis-server.js';
import { waitUntil } from '../../../test/support/wait.js';
import { ShardedRouter } from './sharded-router.js';

/** The router on a real redis-server: what Redis itself reports as subscribed, and what arrives. */
describe('ShardedRouter', () => {
  let redis: RedisServer;
  let client: Redis;
  let router: ShardedRouter;
  let monitor: Redis;
  const received: Array<[string, string]> = [];
  let resubscribed = 0;
  const commands: string[] = [];

  /** Subscribers Redis counts on a shard channel. */
  const subscribers = async (channel: string): Promise<number> => {
    const [, count] = (await client.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
    return count;
  };

  before(async () => {
    redis = await RedisServer.start();
    client = new Redis(redis.url);
    client.on('error', () => undefined);
    // MONITOR shows every command the router sends: batching is visible there.
    monitor = await client.monitor();
    monitor.on('error', () => undefined);
    monitor.on('monitor', (_time: string, args: string[]) => commands.push(args.join(' ')));
    router = new ShardedRouter(redis.url);
    router.onMessage((channel, message) => received.push([channel, message]));
    router.onResubscribed(() => resubscribed++);
    await router.connect();
  });

  after(async () => {
    await router.close();
    monitor.disconnect();
    client.disconnect();
    await redis.stop();
  });

  it('subscribes on the first join, once, and resolves when Redis confirmed it', async () => {
    await Promise.all([router.join('r:{a}'), router.join('r:{a}')]);
    assert.equal(await subscribers('r:{a}'), 1);
    await client.spublish('r:{a}', 'hello');
    await waitUntil(() => received.length === 1, 'the message');
    assert.deepEqual(received[0], ['r:{a}', 'hello']);
  });

  it('keeps the subscription until the last holder leaves', async () => {
    router.leave('r:{a}');
    await client.ping();
    assert.equal(await subscribers('r:{a}'), 1);
    router.leave('r:{a}');
    await waitUntil(async () => (await subscribers('r:{a}')) === 0, 'unsubscribed');
    assert.equal(router.size, 0);
  });

  it('sends nothing for a channel joined and left in the same tick, and one SSUBSCRIBE for channels of one slot', async () => {
    commands.length = 0;
    void router.join('r:{gone}');
    router.leave('r:{gone}');
    await Promise.all([router.join('x:{same}'), router.join('y:{same}')]);
    // The monitor reports commands in execution order: once this marker shows, everything the router sent before has.
    await client.echo('marker-1');
    await waitUntil(() => commands.includes('echo marker-1'), `the marker in the monitor, seen: ${JSON.stringify(commands.slice(-5))}`);
    const subscribes = commands.filter((command) => /^ssubscribe/i.test(command));
    assert.deepEqual(subscribes, ['ssubscribe x:{same} y:{same}']);
    assert.equal(
      commands.some((command) => command.includes('r:{gone}')),
      false,
    );
  });

  it('holds one message listener whatever the number of channels (no listener per channel)', async () => {
    await Promise.all(Array.from({ length: 50 }, (_, index) => router.join(`many:{${String(index)}}`)));
    const inner = router as unknown as { client: Redis };
    assert.equal(inner.client.listenerCount('smessage'), 1);
    for (let index = 0; index < 50; index++) router.leave(`many:{${String(index)}}`);
    await waitUntil(async () => (await subscribers('many:{7}')) === 0, 'all left');
  });

  it('after Redis restarts, subscribes every held channel again, then tells its listeners', async () => {
    await router.join('r:{kept}');
    const before = resubscribed;
    await redis.kill();
    await redis.launch();
    await waitUntil(() => resubscribed === before + 1, 'resubscribed', 15_000);
    assert.equal(await subscribers('r:{kept}'), 1);
    assert.equal(await subscribers('x:{same}'), 1);
    received.length = 0;
    await client.spublish('r:{kept}', 'after');
    await waitUntil(() => received.length === 1, 'delivered after the restart');
  });
});
