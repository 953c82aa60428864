import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import { CommandRejectReasons, Patterns, PresenceQuerySchema, type PresenceReply } from '@herald/contracts';
import { MetricsService } from '../ops/metrics.service.js';
import { NotifyGateway } from '../sockets/notify.gateway.js';
import { MalformedCommand } from './command.deserializer.js';
import { IngestService, type IngestOutcome } from './ingest.service.js';

/**
 * Entry points of the command transport (HeraldCommandServer). A notify handler resolves once the notification is
 * stored (and so routed): only then is a stream command acknowledged.
 */
@Controller()
export class CommandController {
  constructor(
    private readonly ingest: IngestService,
    private readonly gateway: NotifyGateway,
    private readonly metrics: MetricsService,
  ) {}

  @EventPattern(Patterns.NotifyUser)
  notifyUser(@Payload() data: unknown): Promise<IngestOutcome> {
    return this.ingest.handle(Patterns.NotifyUser, data);
  }

  @EventPattern(Patterns.NotifyUsers)
  notifyUsers(@Payload() data: unknown): Promise<IngestOutcome> {
    return this.ingest.handle(Patterns.NotifyUsers, data);
  }

  @EventPattern(Patterns.NotifyBroadcast)
  notifyBroadcast(@Payload() data: unknown): Promise<IngestOutcome> {
    return this.ingest.handle(Patterns.NotifyBroadcast, data);
  }

  /**
   * Over pub/sub every instance answers; the caller keeps the first reply. Each answer is the cluster-wide count
   * (fetched through the Redis adapter), so whichever arrives first is right.
   */
  @MessagePattern(Patterns.PresenceQuery)
  async presence(@Payload() data: unknown): Promise<PresenceReply> {
    this.metrics.commandReceived(Patterns.PresenceQuery);
    if (data instanceof MalformedCommand) {
      this.metrics.commandRejected(Patterns.PresenceQuery, data.reason);
      throw new RpcException({ reason: data.reason, detail: data.detail });
    }
    const query = PresenceQuerySchema.safeParse(data);
    if (!query.success) {
      this.metrics.commandRejected(Patterns.PresenceQuery, CommandRejectReasons.InvalidShape);
      throw new RpcException({ reason: CommandRejectReasons.InvalidShape, detail: query.error.issues.map((issue) => issue.message).join('; ') });
    }
    const connections = await this.gateway.countUserConnections(query.data.userId);
    return { userId: query.data.userId, online: connections > 0, connections };
  }
}
