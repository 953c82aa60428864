import { Module } from '@nestjs/common';
import { InboxModule } from '../inbox/inbox.module.js';
import { SocketsModule } from '../sockets/sockets.module.js';
import { CommandController } from './command.controller.js';
import { CommandValidatorService } from './command-validator.service.js';
import { IngestService } from './ingest.service.js';

/** Commands in (HeraldCommandServer, started by main.ts), validated, stored once: the start of the delivery path. */
@Module({
  imports: [InboxModule, SocketsModule],
  controllers: [CommandController],
  providers: [CommandValidatorService, IngestService],
})
export class IngestModule {}
