import { randomUUID } from 'node:crypto';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import {
  Patterns,
  NotificationStatusReplySchema,
  PresenceReplySchema,
  type NotificationStatusReply,
  type NotifyBroadcastInput,
  type NotifyPattern,
  type NotifyUserInput,
  type NotifyUsersInput,
  type PresenceReply,
} from '@herald/contracts';
import { firstValueFrom, timeout } from 'rxjs';
import { HeraldStreamClient } from './herald-stream.client.js';

export interface HeraldPublisherOptions {
  /** redis:// or rediss:// URL of the Redis that Herald's gateways listen on. */
  redisUrl: string;
  /** How long `presence()` and `status()` wait for a gateway to answer. */
  requestTimeoutMs?: number;
}

/**
 * Publishes Herald commands. Notifications go to the command stream (HeraldStreamClient): each `notify*` call resolves
 * once Redis has accepted the command, and from then on it is delivered even if gateways restart. Every notification
 * gets an `id` unless the caller set one: the gateways store each id once per user, so calling again with the same id
 * (a retry after an error or a timeout) never produces a second copy. `sentAt` lets the gateways measure latency.
 * Presence and status queries are request/reply over pub/sub (Nest's Redis transport), answered by whichever gateway is first.
 */
export class HeraldPublisher {
  private readonly commands: HeraldStreamClient;
  private readonly client: ClientProxy;
  private readonly requestTimeoutMs: number;

  constructor(options: HeraldPublisherOptions) {
    this.commands = new HeraldStreamClient(options.redisUrl);
    const url = new URL(options.redisUrl);
    this.client = ClientProxyFactory.create({
      transport: Transport.REDIS,
      options: {
        host: url.hostname,
        port: url.port ? Number(url.port) : 6379,
        username: url.username ? decodeURIComponent(url.username) : undefined,
        password: url.password ? decodeURIComponent(url.password) : undefined,
        db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
        ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
        retryAttempts: Number.MAX_SAFE_INTEGER,
        retryDelay: 1000,
      },
    });
    this.requestTimeoutMs = options.requestTimeoutMs ?? 5000;
  }

  async connect(): Promise<void> {
    await Promise.all([this.commands.connect(), this.client.connect()]);
  }

  /** Resolves with the id the clients will see, once Redis has accepted the command. */
  async notifyUser(command: NotifyUserInput): Promise<string> {
    return this.emit(Patterns.NotifyUser, command);
  }

  async notifyUsers(command: NotifyUsersInput): Promise<string> {
    return this.emit(Patterns.NotifyUsers, command);
  }

  async broadcast(command: NotifyBroadcastInput): Promise<string> {
    return this.emit(Patterns.NotifyBroadcast, command);
  }

  /** How many sockets the user has across the whole cluster. */
  async presence(userId: string): Promise<PresenceReply> {
    const reply = await firstValueFrom(this.client.send<unknown>(Patterns.PresenceQuery, { userId }).pipe(timeout(this.requestTimeoutMs)));
    return PresenceReplySchema.parse(reply);
  }

  /** Where one notification stands for its user: stored, delivered (a device acknowledged it), read. Unknown ids: `stored: false`. */
  async status(userId: string, id: string): Promise<NotificationStatusReply> {
    const reply = await firstValueFrom(this.client.send<unknown>(Patterns.NotificationStatus, { userId, id }).pipe(timeout(this.requestTimeoutMs)));
    return NotificationStatusReplySchema.parse(reply);
  }

  async close(): Promise<void> {
    await Promise.all([this.commands.close(), this.client.close()]);
  }

  private async emit(pattern: NotifyPattern, command: NotifyUserInput | NotifyUsersInput | NotifyBroadcastInput): Promise<string> {
    const id = command.id ?? randomUUID();
    await firstValueFrom(this.commands.emit(pattern, { ...command, id, sentAt: command.sentAt ?? Date.now() }), { defaultValue: undefined });
    return id;
  }
}
