import { Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { CanaryFailureReasons, canaryChannel, type CanaryFailureReason } from '@herald/contracts';
import { ShardedRouter } from '@herald/redis-io-adapter';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AppConfig } from '../config/app-config.js';
import { RedisInboxStore } from '../inbox/inbox-store.js';
import { MetricsService } from '../ops/metrics.service.js';
import { ReadinessChecks } from '../ops/readiness-checks.service.js';

/** The readiness check's name in /health/ready. */
export const ROUTE_CANARY_CHECK = 'route_canary';

/**
 * Proves the delivery path end to end: every ROUTE_CANARY_INTERVAL_MS the instance SPUBLISHes a probe on a shard
 * channel of its own, which it is SSUBSCRIBEd to through the same route subscriber that brings every notification.
 * The instance is ready only while the latest probe came back within ROUTE_CANARY_TIMEOUT_MS. A subscriber whose
 * connection looks up but receives nothing (Centrifugo issue 1189: a half-open path, a proxy that stopped forwarding)
 * misses probe after probe; after ROUTE_CANARY_MAX_MISSES in a row the connection is dropped and reopened, which
 * subscribes everything again and makes every socket catch up from the store (nothing is lost, only late).
 *
 * Probes published through the store's connection: that Redis accepted them is part of what is proved. A failed
 * SPUBLISH, or none sent because that connection is down, makes the instance unready but does not count against the
 * subscriber.
 */
@Injectable()
export class RouteCanaryService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly channel: string;
  /** Probes sent and not back yet: id -> [sent at (performance.now ms), its timeout]. */
  private readonly inFlight = new Map<string, [number, NodeJS.Timeout]>();
  private timer: NodeJS.Timeout | undefined;
  private sent = 0;
  private misses = 0;
  private ok = false;
  private stopped = false;

  constructor(
    private readonly config: AppConfig,
    private readonly router: ShardedRouter,
    private readonly store: RedisInboxStore,
    private readonly metrics: MetricsService,
    readiness: ReadinessChecks,
    @InjectPinoLogger(RouteCanaryService.name) private readonly logger: PinoLogger,
  ) {
    this.channel = canaryChannel(config.instanceId);
    readiness.register(ROUTE_CANARY_CHECK, () => this.ok);
  }

  /** After app.init: the router is connected by then; the first probe goes at once, so readiness follows within a round trip. */
  async onApplicationBootstrap(): Promise<void> {
    this.router.onChannel(this.channel, (message) => this.returned(message));
    await this.router.join(this.channel);
    if (this.stopped) return;
    this.probe();
    this.timer = setInterval(() => this.probe(), this.config.canary.intervalMs);
    this.timer.unref();
  }

  beforeApplicationShutdown(): void {
    this.stopped = true;
    clearInterval(this.timer);
    for (const [, timeout] of this.inFlight.values()) clearTimeout(timeout);
    this.inFlight.clear();
  }

  get healthy(): boolean {
    return this.ok;
  }

  private probe(): void {
    // The client would queue the command until Redis is back: a probe sent then proves nothing about now.
    if (this.store.client.status !== 'ready') {
      this.missed(CanaryFailureReasons.PublishError);
      return;
    }
    const id = `${++this.sent}`;
    const timeout = setTimeout(() => {
      if (this.inFlight.delete(id)) this.missed(CanaryFailureReasons.Timeout);
    }, this.config.canary.timeoutMs);
    timeout.unref();
    this.inFlight.set(id, [performance.now(), timeout]);
    this.store.client.spublish(this.channel, id).then(
      (receivers) => {
        // Redis knows of no subscriber: the subscription is gone on the server, whatever the connection says.
        if (receivers === 0 && this.forget(id)) this.missed(CanaryFailureReasons.NoSubscriber);
      },
      () => {
        if (this.forget(id)) this.missed(CanaryFailureReasons.PublishError);
      },
    );
  }

  private returned(message: string): void {
    const entry = this.inFlight.get(message);
    // A probe that already timed out (or another instance's, impossible by channel): nothing to prove anymore.
    if (entry === undefined) return;
    this.forget(message);
    this.metrics.canaryReturned((performance.now() - entry[0]) / 1000);
    this.misses = 0;
    this.setOk(true);
  }

  private forget(id: string): boolean {
    const entry = this.inFlight.get(id);
    if (entry === undefined) return false;
    clearTimeout(entry[1]);
    this.inFlight.delete(id);
    return true;
  }

  private missed(reason: CanaryFailureReason): void {
    if (this.stopped) return;
    this.metrics.canaryFailed(reason);
    this.setOk(false, reason);
    if (reason === CanaryFailureReasons.PublishError) return;
    this.misses++;
    if (this.misses < this.config.canary.maxMisses || !this.router.isConnected) return;
    this.logger.error({ misses: this.misses, reason }, 'route subscriber receives nothing although connected: reconnecting it (its sockets catch up from the store)');
    this.misses = 0;
    this.metrics.routeSubscriberReconnected();
    this.router.reconnect();
  }

  private setOk(ok: boolean, reason?: CanaryFailureReason): void {
    if (this.ok === ok) return;
    this.ok = ok;
    this.metrics.setCanaryOk(ok);
    if (ok) this.logger.info('route canary back: ready');
    else this.logger.warn({ reason }, 'route canary probe missed: not ready');
  }
}
