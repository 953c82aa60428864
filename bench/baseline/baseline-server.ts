/**
 * The emitter-fed baseline (phases 1-5): the notification server a user would write in an afternoon. Bare socket.io
 * with @socket.io/redis-adapter on node-redis; backend services publish with @socket.io/redis-emitter, which
 * PUBLISHes each emit to the adapter's channel, and every instance's adapter delivers to its local sockets in the room.
 * What all baselines share (JWT check, rooms, health) is in bare-server.ts.
 *
 * Environment: PORT, HOST (default 127.0.0.1), REDIS_URL, JWT_SECRET.
 */
import { createAdapter } from '@socket.io/redis-adapter';
import { createClient, type RedisClientType } from 'redis';
import { readEnvironment, startBareServer } from './bare-server.js';

const env = readEnvironment('baseline');
const pub: RedisClientType = createClient({ url: env.redisUrl });
const sub: RedisClientType = pub.duplicate();
for (const client of [pub, sub]) client.on('error', (error: Error) => process.stderr.write(`baseline: redis error: ${error.message}\n`));
await Promise.all([pub.connect(), sub.connect()]);

startBareServer(env, {
  name: 'baseline',
  io: { adapter: createAdapter(pub, sub) },
  close: () => Promise.allSettled([pub.close(), sub.close()]),
});
