import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { userFeedKeys, type FeedKeys } from '@herald/contracts';
import { Redis } from 'ioredis';
import { RedisServer } from '../../../../test/support/redis-server.js';
import { waitUntil } from '../../../../test/support/wait.js';
import { loadConfig } from '../config/app-config.js';
import { RedisInboxStore, type NewNotification } from './inbox-store.js';

/** The store's scripts on a real redis-server: what is kept, trimmed, deduplicated and routed. */
describe('RedisInboxStore', () => {
  let redis: RedisServer;
  let client: Redis;
  let subscriber: Redis;
  let store: RedisInboxStore;
  const routed: string[] = [];
  let feed: FeedKeys;
  let user = 0;

  const notification = (id: string): NewNotification => ({
    id,
    envelopePrefix: JSON.stringify({ id, type: 't', data: { id }, createdAt: new Date(0).toISOString() }).slice(0, -1),
    pattern: 'notify.user',
    createdAtMs: 0,
  });
  const ids = async (): Promise<string[]> => (await store.readAfter(feed, 0, 100)).items.map((item) => (JSON.parse(item.envelopeJson) as { id: string }).id);

  before(async () => {
    redis = await RedisServer.start();
    client = new Redis(redis.url);
    subscriber = new Redis(redis.url);
    subscriber.on('smessage', (_channel: string, message: string) => routed.push(message));
    // Three notifications at most, kept one second at most.
    store = new RedisInboxStore(loadConfig({ JWT_SECRET: 'unit-test-secret-0123456789', REDIS_URL: redis.url, INBOX_MAX_LENGTH: '3', INBOX_MAX_AGE_SECONDS: '1' }));
    await store.connect();
  });

  beforeEach(async () => {
    feed = userFeedKeys(`user-${String(++user)}`);
    await subscriber.ssubscribe(feed.route);
    routed.length = 0;
  });

  after(async () => {
    await store.onApplicationShutdown();
    subscriber.disconnect();
    client.disconnect();
    await redis.stop();
  });

  it('stores with a dense sequence from 1, completes the envelope with its cursor, and routes exactly what it stored', async () => {
    const first = await store.append(feed, notification('a'));
    const second = await store.append(feed, notification('b'));
    assert.deepEqual([first.stored, first.position.seq, second.position.seq], [true, 1, 2]);
    assert.equal(second.position.epoch, first.position.epoch);
    const range = await store.readAfter(feed, 0, 10);
    assert.deepEqual(
      range.items.map((item) => JSON.parse(item.envelopeJson) as unknown),
      [
        { id: 'a', type: 't', data: { id: 'a' }, createdAt: new Date(0).toISOString(), cursor: `${first.position.epoch}.1` },
        { id: 'b', type: 't', data: { id: 'b' }, createdAt: new Date(0).toISOString(), cursor: `${first.position.epoch}.2` },
      ],
    );
    await waitUntil(() => routed.length === 2, 'both routed');
    assert.deepEqual(
      routed,
      range.items.map((item) => `${first.position.epoch}.${String(item.seq)} notify.user 0 ${item.envelopeJson}`),
    );
  });

  it('stores and routes a retried id nothing more, and answers with its first position', async () => {
    await store.append(feed, notification('a'));
    const again = await store.append(feed, notification('a'));
    assert.deepEqual([again.stored, again.position.seq], [false, 1]);
    assert.deepEqual(await ids(), ['a']);
    // A route message of the retry would arrive before this one's: the channel keeps order.
    await store.append(feed, notification('z'));
    await waitUntil(() => routed.some((message) => message.includes('"id":"z"')), 'the next one routed');
    assert.equal(routed.length, 2);
  });

  it('keeps INBOX_MAX_LENGTH notifications, and forgets the ids of those it trimmed (a trimmed id may be stored again)', async () => {
    for (const id of ['a', 'b', 'c', 'd', 'e']) await store.append(feed, notification(id));
    assert.deepEqual(await ids(), ['c', 'd', 'e']);
    assert.deepEqual((await client.hkeys(feed.ids)).sort(), ['c', 'd', 'e']);
    const range = await store.readAfter(feed, 0, 10);
    assert.deepEqual([range.head, range.firstRetained], [5, 3]);
    assert.equal((await store.append(feed, notification('a'))).stored, true);
  });

  it('trims what is older than INBOX_MAX_AGE_SECONDS, by Redis time, and expires an idle feed', async () => {
    await store.append(feed, notification('old'));
    const storedAt = Date.now();
    // The condition is the passing of the max age itself (Redis' clock decides; 1.2 s leaves it a margin).
    await waitUntil(() => Date.now() - storedAt > 1200, 'the max age to pass', 5000, 50);
    await store.append(feed, notification('new'));
    assert.deepEqual(await ids(), ['new']);
    assert.ok((await client.pttl(feed.log)) <= 1000, 'the log expires after the max age');
    assert.ok((await client.pttl(feed.meta)) > 1000, 'the meta outlives it');
  });

  it('starts a feed whose meta is gone again at 1, with a new epoch, dropping what was left', async () => {
    const before = await store.append(feed, notification('a'));
    await client.del(feed.meta);
    const after = await store.append(feed, notification('b'));
    assert.equal(after.position.seq, 1);
    assert.notEqual(after.position.epoch, before.position.epoch);
    assert.deepEqual(await ids(), ['b']);
  });

  it('fails on a key of another type without moving the sequence, and stores normally once it is fixed', async () => {
    await store.append(feed, notification('a'));
    await client.del(feed.log);
    await client.set(feed.log, 'not a stream');
    await assert.rejects(store.append(feed, notification('b')), /WRONGTYPE/);
    assert.equal(await client.hget(feed.meta, 's'), '1');
    await client.del(feed.log);
    assert.equal((await store.append(feed, notification('b'))).position.seq, 2);
  });
});
