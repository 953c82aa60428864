import { Controller, Get } from '@nestjs/common';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthIndicatorResult } from '@nestjs/terminus';
import { DrainState } from './drain-state.service.js';
import { ReadinessChecks } from './readiness-checks.service.js';
import { REDIS_CLIENT_ROLES, RedisStatusService } from './redis-status.service.js';

/**
 * Liveness: the process serves HTTP. Readiness: every Redis connection is up (it can store, route and receive
 * commands), the checks feature modules registered hold (the route canary: a probe went through Redis and back through
 * the route subscriber), and it is not draining.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly redis: RedisStatusService,
    private readonly drain: DrainState,
    private readonly checks: ReadinessChecks,
  ) {}

  @Get('live')
  @HealthCheck()
  live() {
    return this.health.check([]);
  }

  @Get('ready')
  @HealthCheck()
  ready() {
    return this.health.check([
      ...REDIS_CLIENT_ROLES.map((role) => () => this.flag(`redis_${role}`, this.redis.isConnected(role))),
      ...this.checks.entries().map(
        ([name, check]) =>
          () =>
            this.flag(name, check()),
      ),
      () => this.flag('accepting_connections', this.drain.isAccepting),
    ]);
  }

  private flag(key: string, up: boolean): HealthIndicatorResult {
    const indicator = this.indicators.check(key);
    return up ? indicator.up() : indicator.down();
  }
}
