import { Injectable } from '@nestjs/common';
import { HeraldMetrics } from '@herald/metrics';
import { AppConfig } from '../config/app-config.js';
import { REDIS_CLIENT_ROLES, RedisStatusService } from './redis-status.service.js';

/** The instance's metrics, injectable. Redis connection state is mirrored from RedisStatusService as it changes. */
@Injectable()
export class MetricsService extends HeraldMetrics {
  constructor(config: AppConfig, redis: RedisStatusService) {
    super({ instanceId: config.instanceId });
    // Providers are built before main.ts connects anything, but read the current state anyway rather than rely on that.
    for (const role of REDIS_CLIENT_ROLES) this.setRedisConnected(role, redis.isConnected(role));
    redis.onChange((role, connected) => this.setRedisConnected(role, connected));
  }
}
