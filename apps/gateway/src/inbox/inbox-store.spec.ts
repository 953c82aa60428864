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

  it('reads no entry to append when nothing is to be trimmed (the oldest time is kept in meta), and trims an active feed by age', async () => {
    const xranges = async (): Promise<number> => Number(/cmdstat_xrange:calls=(\d+)/.exec(await client.info('commandstats'))?.[1] ?? 0);
    const redisNow = async (): Promise<number> => {
      const [seconds, micros] = await client.time();
      return seconds * 1000 + Math.floor(micros / 1000);
    };
    const storedAt = async (id: string): Promise<number> => {
      const entry = (await client.xrange(feed.log, '-', '+')).find(([, fields]) => fields[3] === id);
      return Number(entry?.[1][5]);
    };
    const olderThan = async (id: string, ms: number) => {
      const at = await storedAt(id);
      await waitUntil(async () => (await redisNow()) - at > ms, `${id} older than ${ms} ms`, 5000, 20);
    };
    const olderThanMaxAge = (id: string) => olderThan(id, 1050);
    await store.append(feed, notification('a'));
    // Half the max age apart, so that each passes it at its own time.
    await olderThan('a', 500);
    const before = await xranges();
    await store.append(feed, notification('b'));
    assert.equal(await xranges(), before, 'an append with nothing to trim reads no entry');
    // a, then b, pass the max age while the feed keeps getting notifications: each goes at the next append.
    await olderThanMaxAge('a');
    await store.append(feed, notification('c'));
    assert.deepEqual(await ids(), ['b', 'c']);
    await olderThanMaxAge('b');
    await store.append(feed, notification('d'));
    assert.deepEqual(await ids(), ['c', 'd']);
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

  describe('read state', () => {
    const state = async () => {
      const range = await store.readAfter(feed, 0, 0);
      return { unread: range.unread, readUpTo: range.readUpTo, version: range.version };
    };
    const readStateMessages = () => routed.filter((message) => message.split(' ')[1] === 'inbox.updated');

    it('counts unread exactly: reads by id, mark-all-read up to a cursor, duplicates and unknown ids changing nothing', async () => {
      const a = await store.append(feed, notification('a'));
      await store.append(feed, notification('b'));
      await store.append(feed, notification('c'));
      assert.deepEqual(await state(), { unread: 3, readUpTo: 0, version: 0 });
      const marked = await store.markRead(feed, ['b', 'b', 'nope']);
      assert.deepEqual([marked.unread, marked.changed], [2, ['b']]);
      assert.deepEqual((await store.markRead(feed, ['b'])).changed, [], 'marking again changes nothing');
      const all = await store.markAllRead(feed, { epoch: a.position.epoch, seq: 1 });
      assert.deepEqual([all?.unread, all?.readUpTo, all?.changed], [1, 1, true]);
      assert.equal((await store.markAllRead(feed, { epoch: a.position.epoch, seq: 1 }))?.changed, false, 'an older or equal mark changes nothing');
      assert.deepEqual(await state(), { unread: 1, readUpTo: 1, version: 2 });
      // Everything: the mark covers b, which leaves the set of reads one by one.
      assert.equal((await store.markAllRead(feed, null))?.unread, 0);
      assert.equal(await client.zcard(feed.reads), 0);
      const page = await store.list(feed, 0, 10);
      assert.deepEqual(
        page.items.map((item) => [item.seq, item.read]),
        [
          [3, true],
          [2, true],
          [1, true],
        ],
      );
    });

    it('routes each change of the read state after the notifications it counts, with its version', async () => {
      const a = await store.append(feed, notification('a'));
      await store.markRead(feed, ['a']);
      await store.append(feed, notification('b'));
      await store.markAllRead(feed, null);
      await waitUntil(() => routed.length === 4, 'four route messages');
      const epoch = a.position.epoch;
      assert.deepEqual(readStateMessages(), [
        `${epoch}.1 inbox.updated 1 {"unread":0,"readUpTo":null,"ids":["a"]}`,
        `${epoch}.2 inbox.updated 2 {"unread":0,"readUpTo":"${epoch}.2"}`,
      ]);
      assert.deepEqual(
        routed.map((message) => message.split(' ')[1]),
        ['notify.user', 'inbox.updated', 'notify.user', 'inbox.updated'],
      );
    });

    it('a cursor of another epoch or beyond the head is refused by mark-all-read and by acknowledgements', async () => {
      const a = await store.append(feed, notification('a'));
      assert.equal(await store.markAllRead(feed, { epoch: 'other', seq: 1 }), undefined);
      assert.equal(await store.markAllRead(feed, { epoch: a.position.epoch, seq: 2 }), undefined);
      assert.deepEqual(await store.acknowledge(feed, { epoch: 'other', seq: 1 }), { outcome: 'stale' });
      assert.deepEqual(await store.acknowledge(feed, { epoch: a.position.epoch, seq: 2 }), { outcome: 'stale' });
      assert.deepEqual(await state(), { unread: 1, readUpTo: 0, version: 0 });
    });

    it('trimming unread notifications lowers the count and routes the change; read ones leave no trace', async () => {
      for (const id of ['a', 'b', 'c']) await store.append(feed, notification(id));
      await store.markRead(feed, ['b']);
      await store.append(feed, notification('d')); // trims a (unread)
      assert.deepEqual(await state(), { unread: 2, readUpTo: 0, version: 2 });
      await waitUntil(() => readStateMessages().length === 2, 'the trim to be routed');
      assert.match(readStateMessages()[1] ?? '', / inbox\.updated 2 \{"unread":2,"readUpTo":null\}$/);
      await store.append(feed, notification('e')); // trims b (read): the count moves by the append alone
      assert.deepEqual(await state(), { unread: 3, readUpTo: 0, version: 2 });
      assert.equal(await client.zcard(feed.reads), 0, 'the trimmed read is forgotten');
      assert.equal(await client.hexists(feed.readAt, '2'), 0);
    });

    it('status: stored, then delivered by an acknowledgement, then read; unknown ids are not stored', async () => {
      const a = await store.append(feed, notification('a'));
      await store.append(feed, notification('b'));
      const stored = await store.status(feed, 'a');
      assert.deepEqual([stored?.position, stored?.deliveredAtMs, stored?.readAtMs], [a.position, null, null]);
      assert.ok((stored?.storedAtMs ?? 0) > 0);
      const acked = await store.acknowledge(feed, { epoch: a.position.epoch, seq: 2 });
      assert.equal(acked.outcome, 'advanced');
      assert.deepEqual(await store.acknowledge(feed, a.position), { outcome: 'unchanged' }, 'an older acknowledgement changes nothing');
      const delivered = await store.status(feed, 'a');
      assert.ok((delivered?.deliveredAtMs ?? 0) >= (stored?.storedAtMs ?? Infinity), 'the mark at 2 covers 1');
      assert.equal(delivered?.readAtMs, null);
      await store.markRead(feed, ['a']);
      await store.markAllRead(feed, null);
      const [readA, readB] = [await store.status(feed, 'a'), await store.status(feed, 'b')];
      assert.ok((readA?.readAtMs ?? 0) > 0 && (readB?.readAtMs ?? 0) > 0);
      assert.ok((readA?.readAtMs ?? 0) <= (readB?.readAtMs ?? 0), 'a keeps the time it was read one by one');
      assert.equal(await store.status(feed, 'never'), undefined);
    });

    it('records an acknowledgement the gateway held (gathered with others) at the time it arrived', async () => {
      await store.append(feed, notification('a'));
      const b = await store.append(feed, notification('b'));
      const [seconds] = await client.time();
      const acked = await store.acknowledge(feed, b.position, 60_000);
      assert.equal(acked.outcome, 'advanced');
      const delivered = await store.status(feed, 'b');
      const nowMs = seconds * 1000;
      assert.ok((delivered?.deliveredAtMs ?? 0) <= nowMs - 55_000, `delivered ${String(delivered?.deliveredAtMs)}, a minute before ${nowMs}`);
    });

    it('pages newest first through everything retained, stable while notifications are added', async () => {
      for (const id of ['a', 'b', 'c']) await store.append(feed, notification(id));
      const first = await store.list(feed, 0, 2);
      assert.deepEqual([first.items.map((item) => item.seq), first.more], [[3, 2], true]);
      await store.append(feed, notification('d')); // trims a: the next page ends at b
      const second = await store.list(feed, 2, 2);
      assert.deepEqual([second.items.map((item) => item.seq), second.more], [[], false]);
      const third = await store.list(feed, 0, 3);
      assert.deepEqual([third.items.map((item) => item.seq), third.more], [[4, 3, 2], false]);
    });

    it('a feed started again forgets the read and delivery state of the old one', async () => {
      const a = await store.append(feed, notification('a'));
      await store.markRead(feed, ['a']);
      await store.acknowledge(feed, a.position);
      await client.del(feed.meta);
      await store.append(feed, notification('b'));
      assert.deepEqual(await state(), { unread: 1, readUpTo: 0, version: 0 });
      assert.equal((await store.status(feed, 'b'))?.deliveredAtMs, null);
      assert.deepEqual(await Promise.all([client.exists(feed.reads), client.exists(feed.readAt), client.exists(feed.ackMarks)]), [0, 0, 0]);
    });
  });
});
