import { Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { HeraldPublisher, type HeraldPublisherOptions } from './herald-publisher.js';

/** For other Nest services: `imports: [HeraldPublisherModule.register({ redisUrl })]`, then inject `HeraldPublisher`. */
@Module({})
export class HeraldPublisherModule implements OnApplicationShutdown {
  constructor(private readonly moduleRef: ModuleRef) {}

  static register(options: HeraldPublisherOptions): DynamicModule {
    return {
      module: HeraldPublisherModule,
      providers: [
        {
          provide: HeraldPublisher,
          useFactory: async () => {
            const publisher = new HeraldPublisher(options);
            await publisher.connect();
            return publisher;
          },
        },
      ],
      exports: [HeraldPublisher],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.moduleRef.get(HeraldPublisher).close();
  }
}
