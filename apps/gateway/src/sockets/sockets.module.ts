import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { ShardedRouter } from '@herald/redis-io-adapter';
import { ConnectionAuthService } from '../auth/connection-auth.service.js';
import { TokenVerifierService } from '../auth/token-verifier.service.js';
import { AppConfig } from '../config/app-config.js';
import { ClientAddressService } from '../edge/client-address.service.js';
import { InboxModule } from '../inbox/inbox.module.js';
import { ClientRequestDispatcher } from './client-request.dispatcher.js';
import { FeedDeliveryService } from './feed-delivery.service.js';
import { NotifyGateway } from './notify.gateway.js';
import { OutboundLimitService } from './outbound-limit.service.js';
import { PacketRateLimiter } from './packet-rate-limiter.js';
import { RouteCanaryService } from './route-canary.service.js';
import { UserConnectionsService } from './user-connections.service.js';
import { SessionExpiryService } from './session-expiry.service.js';
import { SessionRefreshService } from './session-refresh.service.js';

/** The Socket.IO side: handshakes, resume and replay, live delivery of what the routes bring, client requests, drain. */
@Module({
  imports: [InboxModule, DiscoveryModule],
  providers: [
    TokenVerifierService,
    ClientAddressService,
    ConnectionAuthService,
    FeedDeliveryService,
    SessionExpiryService,
    SessionRefreshService,
    ClientRequestDispatcher,
    NotifyGateway,
    RouteCanaryService,
    OutboundLimitService,
    UserConnectionsService,
    PacketRateLimiter,
    { provide: ShardedRouter, useFactory: (config: AppConfig) => new ShardedRouter(config.redis.url), inject: [AppConfig] },
  ],
  exports: [NotifyGateway, PacketRateLimiter, ConnectionAuthService, ClientAddressService, ShardedRouter, SessionRefreshService],
})
export class SocketsModule {}
