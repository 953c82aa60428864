/**
 * The baseline Herald is measured against: the notification server a user would write in an afternoon instead.
 * Bare socket.io with @socket.io/redis-adapter on node-redis, the same HS256 JWT check (jose) and `user:<id>`
 * rooms; backend services publish with @socket.io/redis-emitter. Deliberately plain: no validation of
 * notifications, no metrics, no draining, no framework. Names come from @herald/contracts only so that the
 * same clients can connect to both.
 *
 * Environment: PORT, HOST (default 127.0.0.1), REDIS_URL, JWT_SECRET.
 */
import { createServer } from 'node:http';
import { NOTIFICATIONS_NAMESPACE, userRoom } from '@herald/contracts';
import { createAdapter } from '@socket.io/redis-adapter';
import { jwtVerify } from 'jose';
import { createClient, type RedisClientType } from 'redis';
import { Server } from 'socket.io';

interface SocketData {
  userId: string;
}

const port = Number(process.env['PORT'] ?? 3100);
const host = process.env['HOST'] ?? '127.0.0.1';
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const secret = process.env['JWT_SECRET'];
if (!secret) {
  process.stderr.write('baseline: JWT_SECRET is required\n');
  process.exit(78);
}
const key = new TextEncoder().encode(secret);

const pub: RedisClientType = createClient({ url: redisUrl });
const sub: RedisClientType = pub.duplicate();
for (const client of [pub, sub]) client.on('error', (error: Error) => process.stderr.write(`baseline: redis error: ${error.message}\n`));
await Promise.all([pub.connect(), sub.connect()]);

let ready = true;
const httpServer = createServer((request, response) => {
  // Enough for the harness to know the server is up; a real deployment would add more.
  const up = request.url === '/health/ready' ? ready : request.url === '/health/live';
  response.writeHead(up ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: up ? 'ok' : 'error' }));
});
const io = new Server(httpServer, { adapter: createAdapter(pub, sub) });
const notifications = io.of(NOTIFICATIONS_NAMESPACE);

notifications.use((socket, next) => {
  const token: unknown = socket.handshake.auth['token'];
  if (typeof token !== 'string') {
    next(new Error('unauthorized'));
    return;
  }
  jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] }).then(
    ({ payload }) => {
      (socket.data as SocketData).userId = String(payload.sub);
      next();
    },
    () => next(new Error('unauthorized')),
  );
});

notifications.on('connection', (socket) => {
  void socket.join(userRoom((socket.data as SocketData).userId));
});

httpServer.listen(port, host, () => process.stdout.write(`baseline listening on ${host}:${port}\n`));

const shutdown = (): void => {
  ready = false;
  void io.close(() => {
    void Promise.allSettled([pub.close(), sub.close()]).finally(() => process.exit(0));
  });
};
process.once('SIGTERM', shutdown);
process.once('SIGINT', shutdown);
