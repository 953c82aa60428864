import { Module } from '@nestjs/common';
import { DevTokenController } from './dev-token.controller.js';

/** The development token endpoint; AppModule imports it only with DEV_TOKEN_ENDPOINT=true. */
@Module({ controllers: [DevTokenController] })
export class DevTokenModule {}
