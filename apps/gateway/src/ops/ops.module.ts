import { Global, Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { DrainState } from './drain-state.service.js';
import { HealthController } from './health.controller.js';
import { MetricsController } from './metrics.controller.js';
import { MetricsService } from './metrics.service.js';
import { ReadinessChecks } from './readiness-checks.service.js';
import { RedisStatusService } from './redis-status.service.js';

/** Health, metrics, the state of every Redis connection. Global: every feature module counts what it does. */
@Global()
@Module({
  imports: [TerminusModule.forRoot({ logger: false })],
  controllers: [HealthController, MetricsController],
  providers: [RedisStatusService, MetricsService, DrainState, ReadinessChecks],
  exports: [RedisStatusService, MetricsService, DrainState, ReadinessChecks],
})
export class OpsModule {}
