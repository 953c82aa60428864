import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ClientErrorKinds, RedisClientRoles } from '@herald/contracts';
import { RedisIoAdapter, ShardedRouter } from '@herald/redis-io-adapter';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import type { AppConfig } from './config/app-config.js';
import { PromptCloseExpressAdapter } from './edge/prompt-close-express.adapter.js';
import { RedisInboxStore } from './inbox/inbox-store.js';
import { HeraldCommandServer } from './ingest/herald-command.server.js';
import { MetricsService } from './ops/metrics.service.js';
import { RedisStatusService } from './ops/redis-status.service.js';
import { countingParser } from './sockets/counting-parser.js';
import { NotifyGateway } from './sockets/notify.gateway.js';

/**
 * Builds and starts one gateway instance: HTTP (health, metrics), Socket.IO on the Redis adapter, the command
 * transport. Every Redis connection is up before it listens: an instance must not accept what it cannot store or route.
 */
export async function startGateway(config: AppConfig): Promise<void> {
  // Not Nest's forceCloseConnections: it tracks every TCP connection while the server runs (edge/prompt-close-express.adapter.ts).
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), new PromptCloseExpressAdapter(config.connectionCloseGraceMs), {
    bufferLogs: true,
  });
  const logger = app.get(Logger);
  app.useLogger(logger);
  app.set('trust proxy', config.trustedProxies);
  app.set('x-powered-by', false);

  const redisStatus = app.get(RedisStatusService);
  const metrics = app.get(MetricsService);
  const ioAdapter = new RedisIoAdapter(app, {
    url: config.redis.url,
    serverOptions: {
      cors: { origin: config.corsOrigins.length > 0 ? config.corsOrigins : false, credentials: true },
      // The largest packet a client may send (or polling body): requests such as inbox.list are small JSON, so 16 KiB
      // by default (MAX_CLIENT_PACKET_BYTES); engine.io closes a connection that sends more (counted as a disconnect).
      maxHttpBufferSize: config.limits.maxClientPacketBytes,
      // Events are counted by ClientRequestDispatcher; what is no socket.io packet at all only the parser sees.
      parser: countingParser({ undecodable: () => metrics.clientError(ClientErrorKinds.SocketError) }),
    },
    // NotifyGateway listens for disconnects itself, with one listener shared by all sockets.
    gatewayDisconnectHook: false,
  });
  const router = app.get(ShardedRouter);
  const store = app.get(RedisInboxStore);
  redisStatus.watchAdapter(ioAdapter);
  redisStatus.watch((listener) => router.onConnectionChange((connected) => listener(RedisClientRoles.RouteSub, connected)));
  redisStatus.watch((listener) => store.onConnectionChange((connected) => listener(RedisClientRoles.Store, connected)));
  metrics.countRouteSubscriptionsWith(() => router.size);
  await Promise.all([ioAdapter.connectToRedis(), router.connect(), store.connect()]);
  app.useWebSocketAdapter(ioAdapter);

  const transport = new HeraldCommandServer({
    redisUrl: config.redis.url,
    consumer: config.instanceId,
    claimIdleMs: config.ingest.claimIdleMs,
    maxAttempts: config.ingest.maxAttempts,
    ordered: config.ingest.ordered,
    leaseMs: config.ingest.leaseMs,
    readWaitMs: config.ingest.readWaitMs,
    onFailure: () => metrics.ingestFailed(),
    onDeadLetter: (pattern) => metrics.commandDeadLettered(pattern),
  });
  redisStatus.watch((listener) => transport.on('connection', listener));
  app.connectMicroservice({ strategy: transport });
  await app.init();
  await app.get(NotifyGateway).ready;
  await app.startAllMicroservices();
  await app.listen(config.port, config.host);
  logger.log(`herald gateway ${config.instanceId} listening on ${config.host}:${config.port}`, 'Bootstrap');
  closeOnSignals(app, config, logger);
}

/** SIGTERM/SIGINT: drain and close (NotifyGateway, the transport, Redis clients); a watchdog bounds it. */
function closeOnSignals(app: NestExpressApplication, config: AppConfig, logger: Logger): void {
  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) return;
    closing = true;
    logger.log(`${signal} received: draining`, 'Bootstrap');
    setTimeout(() => {
      logger.error(`shutdown took longer than ${config.shutdownTimeoutMs} ms: exiting`, 'Bootstrap');
      process.exit(1);
    }, config.shutdownTimeoutMs).unref();
    app
      .close()
      .then(() => {
        logger.log('shutdown complete', 'Bootstrap');
        process.exit(0);
      })
      .catch((error: unknown) => {
        logger.error(`shutdown failed: ${String(error)}`, 'Bootstrap');
        process.exit(1);
      });
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
