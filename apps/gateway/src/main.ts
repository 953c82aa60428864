import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ClientErrorKinds } from '@herald/contracts';
import { RedisIoAdapter } from '@herald/redis-io-adapter';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module.js';
import { ConfigError, loadConfig, type AppConfig } from './config/app-config.js';
import { PromptCloseExpressAdapter } from './edge/prompt-close-express.adapter.js';
import { MetricsService } from './metrics/metrics.service.js';
import { countingParser } from './notify/counting-parser.js';
import { RedisStatusService } from './redis/redis-status.service.js';
import { CommandController } from './transport/command.controller.js';
import { directEventRoutes } from './transport/direct-event-routes.js';
import { HeraldRedisServer } from './transport/herald-redis.server.js';

async function bootstrap(config: AppConfig): Promise<void> {
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
      maxHttpBufferSize: 16 * 1024,
      // Clients send no events by design: count whatever arrives, under one bounded label, and let it through as before.
      parser: countingParser({
        event: () => metrics.clientMessage(),
        undecodable: () => metrics.clientError(ClientErrorKinds.SocketError),
      }),
    },
    // NotifyGateway listens for disconnects itself, with one listener shared by all sockets.
    gatewayDisconnectHook: false,
  });
  redisStatus.watchAdapter(ioAdapter);
  await ioAdapter.connectToRedis();
  app.useWebSocketAdapter(ioAdapter);

  const { host, port, username, password, db, tls } = config.redis;
  // Nest's Redis transport with a shorter road for notify events (transport/herald-redis.server.ts).
  const transport = new HeraldRedisServer({
    host,
    port,
    username,
    password,
    db,
    ...(tls ? { tls: {} } : {}),
    // Nest's default (0 retries) leaves a live process that silently receives nothing after one blip.
    retryAttempts: Number.MAX_SAFE_INTEGER,
    retryDelay: 1000,
  });
  const microservice = app.connectMicroservice({ strategy: transport });
  const { routes, keptOnNest } = directEventRoutes(app.get(CommandController));
  transport.routeEventsDirectly(routes);
  for (const why of keptOnNest) logger.warn(`event handler kept on Nest's pipeline: ${why}`, 'Bootstrap');
  redisStatus.watchTransport(microservice);
  await app.startAllMicroservices();
  await app.listen(config.port, config.host);
  logger.log(`herald gateway ${config.instanceId} listening on ${config.host}:${config.port}`, 'Bootstrap');

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

let config: AppConfig;
try {
  config = loadConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  throw error;
}
bootstrap(config).catch((error: unknown) => {
  process.stderr.write(`herald gateway failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
