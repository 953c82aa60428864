/**
 * What every bare socket.io baseline shares (bench/baseline/*-server.ts): the environment, a health endpoint for the
 * harness, the same HS256 JWT check with jose as Herald's handshake, the `/notifications` namespace and one `user:<id>`
 * room per socket. Deliberately plain: no validation of notifications, no metrics, no draining, no framework. Names
 * come from @herald/contracts only so that the same clients connect to every system.
 *
 * Environment: PORT, HOST (default 127.0.0.1), REDIS_URL, JWT_SECRET.
 */
import { createServer } from 'node:http';
import { NOTIFICATIONS_NAMESPACE, userRoom } from '@herald/contracts';
import { jwtVerify } from 'jose';
import { Server, type Namespace, type ServerOptions } from 'socket.io';

export interface SocketData {
  userId: string;
}

export interface BareEnvironment {
  port: number;
  host: string;
  redisUrl: string;
  secret: string;
}

export function readEnvironment(name: string): BareEnvironment {
  const secret = process.env['JWT_SECRET'];
  if (!secret) {
    process.stderr.write(`${name}: JWT_SECRET is required\n`);
    process.exit(78);
  }
  return {
    port: Number(process.env['PORT'] ?? 3100),
    host: process.env['HOST'] ?? '127.0.0.1',
    redisUrl: process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379',
    secret,
  };
}

export interface BareServerOptions {
  /** For log lines. */
  name: string;
  /** socket.io options: the adapter, connection state recovery. */
  io?: Partial<ServerOptions>;
  /** Closes what the server opened besides socket.io (its Redis clients) at shutdown. */
  close?: () => Promise<unknown>;
}

/** Starts the HTTP and socket.io server with the JWT check and rooms; the caller wires how notifications arrive. */
export function startBareServer(env: BareEnvironment, options: BareServerOptions): { io: Server; notifications: Namespace } {
  const key = new TextEncoder().encode(env.secret);
  let ready = true;
  const httpServer = createServer((request, response) => {
    // Enough for the harness to know the server is up; a real deployment would add more.
    const up = request.url === '/health/ready' ? ready : request.url === '/health/live';
    response.writeHead(up ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: up ? 'ok' : 'error' }));
  });
  const io = new Server(httpServer, options.io);
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
    // A socket whose state was recovered (connection state recovery) is back in its rooms already.
    if (!socket.recovered) void socket.join(userRoom((socket.data as SocketData).userId));
  });

  httpServer.listen(env.port, env.host, () => process.stdout.write(`${options.name} listening on ${env.host}:${env.port}\n`));

  const shutdown = (): void => {
    ready = false;
    void io.close(() => {
      void Promise.allSettled([options.close?.()]).finally(() => process.exit(0));
    });
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  return { io, notifications };
}
