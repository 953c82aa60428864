import { Injectable } from '@nestjs/common';
import { Patterns, type NotificationEnvelope, type NotifyPattern } from '@herald/contracts';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { CommandValidatorService, type ValidCommand } from '../commands/command-validator.service.js';
import { buildEnvelope } from '../commands/envelope.factory.js';
import { MetricsService } from '../metrics/metrics.service.js';
import { NotifyGateway } from '../notify/notify.gateway.js';

export type DeliveryOutcome = { delivered: true; sockets: number } | { delivered: false; reason: string };

/** Validates a notify command and hands it to the gateway for the sockets this instance holds. */
@Injectable()
export class DeliveryService {
  constructor(
    private readonly validator: CommandValidatorService,
    private readonly gateway: NotifyGateway,
    private readonly metrics: MetricsService,
    @InjectPinoLogger(DeliveryService.name) private readonly logger: PinoLogger,
  ) {}

  handle(pattern: NotifyPattern, raw: unknown, receivedAt = Date.now()): DeliveryOutcome {
    this.metrics.commandReceived(pattern);
    const result = this.validator.validate(pattern, raw);
    if (!result.ok) {
      this.metrics.commandRejected(pattern, result.reason);
      this.logger.warn({ pattern, reason: result.reason, detail: result.detail }, 'command rejected');
      return { delivered: false, reason: result.reason };
    }
    // Every instance receives every command but most have none of its users: they stop here, with nothing built.
    const sockets = this.localReach(result);
    if (sockets > 0) this.send(result, buildEnvelope(pattern, result.command, raw, receivedAt));
    this.metrics.delivered(pattern, sockets, result.command.sentAt ?? receivedAt);
    return { delivered: true, sockets };
  }

  private localReach(valid: ValidCommand): number {
    switch (valid.pattern) {
      case Patterns.NotifyUser:
        return this.gateway.localSocketsOfUser(valid.command.userId);
      case Patterns.NotifyUsers:
        return this.gateway.localSocketsOfUsers(valid.command.userIds);
      case Patterns.NotifyBroadcast:
        return this.gateway.localConnections;
    }
  }

  private send(valid: ValidCommand, envelope: NotificationEnvelope): void {
    switch (valid.pattern) {
      case Patterns.NotifyUser:
        return this.gateway.sendToUser(valid.command.userId, envelope);
      case Patterns.NotifyUsers:
        return this.gateway.sendToUsers(valid.command.userIds, envelope);
      case Patterns.NotifyBroadcast:
        return this.gateway.broadcast(envelope);
    }
  }
}
