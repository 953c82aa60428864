import { Global, Module, type DynamicModule } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { DevTokenModule } from './auth/dev-token.module.js';
import { AppConfig } from './config/app-config.js';
import { IngestModule } from './ingest/ingest.module.js';
import { InboxModule } from './inbox/inbox.module.js';
import { OpsModule } from './ops/ops.module.js';
import { SocketsModule } from './sockets/sockets.module.js';

/** The validated configuration, for every module. */
@Global()
@Module({})
class ConfigModule {
  static forRoot(config: AppConfig): DynamicModule {
    return { module: ConfigModule, providers: [{ provide: AppConfig, useValue: config }], exports: [AppConfig] };
  }
}

/** Commands come in (ingest), are stored once (inbox), and reach the sockets that want them (sockets); ops watches. */
@Module({})
export class AppModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        ConfigModule.forRoot(config),
        LoggerModule.forRoot({
          pinoHttp: {
            level: config.logLevel,
            base: { instance: config.instanceId },
            // Health probes and scrapes would drown everything else; the gateway logs what matters itself.
            autoLogging: false,
          },
        }),
        OpsModule,
        InboxModule,
        SocketsModule,
        IngestModule,
        // Absent unless enabled: the route then does not exist at all (404), rather than refusing.
        ...(config.devTokenEndpoint ? [DevTokenModule] : []),
      ],
    };
  }
}
