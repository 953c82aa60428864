/**
 * Redis memory per stored notification, read with MEMORY USAGE on a private redis-server, and the store's cost in
 * Redis time per append (INFO commandstats). `npm run build && node dist/bench/inbox-memory.js`; bounded: ~42,000
 * appends on loopback, a few seconds.
 */
import { userFeedKeys, type FeedKeys } from '@herald/contracts';
import { Redis } from 'ioredis';
import { loadConfig } from '../apps/gateway/src/config/app-config.js';
import { RedisInboxStore } from '../apps/gateway/src/inbox/inbox-store.js';
import { RedisServer } from '../test/support/redis-server.js';

const PAYLOADS = {
  small: { text: 'Your order shipped' },
  typical: { orderId: 'ord_8f2c1a', text: 'Your order #8f2c1a shipped', url: 'https://shop.example/orders/8f2c1a', items: 3 },
};

async function feedBytes(client: Redis, feed: FeedKeys): Promise<number> {
  const sizes = await Promise.all([feed.log, feed.ids, feed.meta].map(async (key) => Number((await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0')) ?? 0)));
  return sizes.reduce((sum, size) => sum + size, 0);
}

async function fill(store: RedisInboxStore, feed: FeedKeys, count: number, data: unknown, tag: string): Promise<void> {
  const appends: Array<Promise<unknown>> = [];
  for (let index = 0; index < count; index++) {
    const id = `${tag}-${String(index).padStart(6, '0')}-4f1c2b7e-9a51-4c8e-b0a1`;
    const envelope = { id, type: 'order.shipped', data, createdAt: new Date().toISOString() };
    appends.push(store.append(feed, { id, envelopePrefix: JSON.stringify(envelope).slice(0, -1), pattern: 'notify.user', createdAtMs: Date.now() }));
  }
  await Promise.all(appends);
}

const redis = await RedisServer.start();
const config = loadConfig({ JWT_SECRET: 'bench-secret-0123456789', REDIS_URL: redis.url });
const store = new RedisInboxStore(config);
await store.connect();
const client = new Redis(redis.url);
try {
  console.log('payload   notifications per feed   bytes per notification (log + ids + meta) / feed total');
  for (const [name, data] of Object.entries(PAYLOADS)) {
    for (const count of [1, 10, 100, 1000]) {
      const feed = userFeedKeys(`${name}-${count}`);
      await fill(store, feed, count, data, `${name}${count}`);
      const bytes = await feedBytes(client, feed);
      const envelopeBytes = JSON.stringify({ id: 'x'.repeat(36), type: 'order.shipped', data, createdAt: new Date().toISOString(), cursor: 'abcdefghij.1000' }).length;
      console.log(`${name.padEnd(9)} ${String(count).padStart(22)}   ${(bytes / count).toFixed(0).padStart(8)} B / ${bytes} B   (envelope JSON ~${envelopeBytes} B)`);
    }
  }
  // At the cap every append also trims one: the steady state of an active user.
  const capped = userFeedKeys('capped');
  await fill(store, capped, 2000, PAYLOADS.typical, 'cap');
  console.log(
    `typical at the 1,000 cap after 2,000 appends: ${await feedBytes(client, capped)} B, XLEN ${await client.xlen(capped.log)}, ids ${await client.hlen(capped.ids)}`,
  );
  await client.config('RESETSTAT');
  await fill(store, userFeedKeys('timing'), 10_000, PAYLOADS.typical, 'time');
  const stats = await client.info('commandstats');
  const evalsha = /cmdstat_evalsha:calls=(\d+),usec=(\d+),usec_per_call=([\d.]+)/.exec(stats);
  if (evalsha) console.log(`store script: ${evalsha[1]} calls, ${evalsha[3]} µs of Redis time per append (XADD, dedupe, trim, SPUBLISH)`);
} finally {
  client.disconnect();
  await store.onApplicationShutdown();
  await redis.stop();
}
