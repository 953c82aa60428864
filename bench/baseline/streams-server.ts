/**
 * The durable option a user would pick instead of Herald: bare socket.io on `@socket.io/redis-streams-adapter` (node-redis)
 * with connection state recovery. Every broadcast is appended to one Redis stream (`socket.io`) that every instance
 * reads with XREAD and delivers to its own sockets in the rooms, appending the entry id as the packet's offset. When a
 * client's transport drops, the instance that held it saves the session (rooms, data) in Redis; the client
 * reconnects (to any instance) with its session id and last offset, and that instance replays the stream after the
 * offset for the session's rooms. The session is saved only when the old instance sees the disconnect, so a crashed
 * instance's clients recover nothing.
 *
 * Backend services publish with bench's StreamsEmitterPublisher (apps/loadgen/src/publish): there is no emitter
 * package for this adapter on npm, so it XADDs the adapter's own broadcast entry (uid "emitter", which
 * socket.io-adapter's ClusterAdapter knows), as `@socket.io/redis-emitter` does for the pub/sub adapter.
 *
 * The stream is capped at STREAMS_MAX_LEN entries (approximate trimming, default 100,000 here against the adapter's
 * 10,000, which at the benchmark's rates is about a second of history): retention must not be what makes a recovery
 * fail. The harness gives the publisher and the servers the same cap (STREAMS_MAX_LEN in notification-publisher.ts).
 *
 * Environment: PORT, HOST (default 127.0.0.1), REDIS_URL, JWT_SECRET, STREAMS_MAX_LEN.
 */
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { createClient, type RedisClientType } from 'redis';
import { readEnvironment, startBareServer } from './bare-server.js';

const env = readEnvironment('streams');
const maxLen = Number(process.env['STREAMS_MAX_LEN'] ?? 100_000);
const redis: RedisClientType = createClient({ url: env.redisUrl });
redis.on('error', (error: Error) => process.stderr.write(`streams: redis error: ${error.message}\n`));
await redis.connect();

startBareServer(env, {
  name: 'streams',
  io: {
    adapter: createAdapter(redis, { maxLen }),
    // socket.io's defaults: sessions kept 2 minutes, a recovered socket skips the middlewares (the JWT check).
    connectionStateRecovery: {},
  },
  close: () => redis.close(),
});
