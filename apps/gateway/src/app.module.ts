import { Module, type DynamicModule } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { LoggerModule } from 'nestjs-pino';
import { ConnectionAuthService } from './auth/connection-auth.service.js';
import { TokenVerifierService } from './auth/token-verifier.service.js';
import { CommandValidatorService } from './commands/command-validator.service.js';
import { AppConfig } from './config/app-config.js';
import { DeliveryService } from './delivery/delivery.service.js';
import { ClientAddressService } from './edge/client-address.service.js';
import { HealthController } from './health/health.controller.js';
import { MetricsController } from './metrics/metrics.controller.js';
import { MetricsService } from './metrics/metrics.service.js';
import { NotifyGateway } from './notify/notify.gateway.js';
import { RedisStatusService } from './redis/redis-status.service.js';
import { CommandController } from './transport/command.controller.js';

@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            base: { instance: config.instanceId },
            // Health probes and scrapes would drown everything else; the gateway logs what matters itself.
            autoLogging: false,
          },
        }),
        TerminusModule.forRoot({ logger: false }),
      ],
      controllers: [HealthController, MetricsController, CommandController],
      providers: [
        { provide: AppConfig, useValue: config },
        TokenVerifierService,
        ClientAddressService,
        ConnectionAuthService,
        CommandValidatorService,
        DeliveryService,
        RedisStatusService,
        MetricsService,
        NotifyGateway,
      ],
    };
  }
}
