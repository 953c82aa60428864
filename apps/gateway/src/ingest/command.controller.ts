import { Controller } from '@nestjs/common';
import { EventPattern, MessagePattern, Payload, RpcException } from '@nestjs/microservices';
import {
  CommandRejectReasons,
  NotificationStatusQuerySchema,
  Patterns,
  PresenceQuerySchema,
  type NotificationStatusReply,
  type PresenceReply,
  type Pattern,
} from '@herald/contracts';
import type { z } from 'zod';
import { NotificationStatusService } from '../inbox/notification-status.service.js';
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
    private readonly statuses: NotificationStatusService,
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
    const { userId } = this.request(Patterns.PresenceQuery, PresenceQuerySchema, data);
    const connections = await this.gateway.countUserConnections(userId);
    return { userId, online: connections > 0, connections };
  }

  /** Like presence: every instance may answer over pub/sub, each from Redis, so the first reply is right. */
  @MessagePattern(Patterns.NotificationStatus)
  status(@Payload() data: unknown): Promise<NotificationStatusReply> {
    return this.statuses.status(this.request(Patterns.NotificationStatus, NotificationStatusQuerySchema, data));
  }

  /** Counts a request and validates it; a bad one is rejected with its reason (RpcException: the caller gets the error). */
  private request<S extends z.ZodType>(pattern: Pattern, schema: S, data: unknown): z.output<S> {
    this.metrics.commandReceived(pattern);
    if (data instanceof MalformedCommand) {
      this.metrics.commandRejected(pattern, data.reason);
      throw new RpcException({ reason: data.reason, detail: data.detail });
    }
    const query = schema.safeParse(data);
    if (!query.success) {
      this.metrics.commandRejected(pattern, CommandRejectReasons.InvalidShape);
      throw new RpcException({ reason: CommandRejectReasons.InvalidShape, detail: query.error.issues.map((issue) => issue.message).join('; ') });
    }
    return query.data;
  }
}
