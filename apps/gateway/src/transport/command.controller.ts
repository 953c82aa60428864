import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { Patterns, PresenceQuerySchema, type PresenceReply } from '@herald/contracts';
import { DeliveryService } from '../delivery/delivery.service.js';
import { NotifyGateway } from '../notify/notify.gateway.js';

/** Redis transport entry points. Each instance receives every message published on these channels. */
@Controller()
export class CommandController {
  constructor(
    private readonly delivery: DeliveryService,
    private readonly gateway: NotifyGateway,
  ) {}

  @EventPattern(Patterns.NotifyUser)
  notifyUser(@Payload() data: unknown): void {
    this.delivery.handle(Patterns.NotifyUser, data);
  }

  @EventPattern(Patterns.NotifyUsers)
  notifyUsers(@Payload() data: unknown): void {
    this.delivery.handle(Patterns.NotifyUsers, data);
  }

  @EventPattern(Patterns.NotifyBroadcast)
  notifyBroadcast(@Payload() data: unknown): void {
    this.delivery.handle(Patterns.NotifyBroadcast, data);
  }

  /**
   * Every instance answers; the caller keeps the first reply. Each answer is the cluster-wide count
   * (fetched through the Redis adapter), so whichever arrives first is right.
   */
  @MessagePattern(Patterns.PresenceQuery)
  async presence(@Payload() data: unknown): Promise<PresenceReply> {
    const query = PresenceQuerySchema.safeParse(data);
    if (!query.success) {
      throw new RpcException({ reason: 'invalid_shape', detail: query.error.issues.map((issue) => issue.message).join('; ') });
    }
    const connections = await this.gateway.countUserConnections(query.data.userId);
    return { userId: query.data.userId, online: connections > 0, connections };
  }
}
