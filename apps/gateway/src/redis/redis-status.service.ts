import { Injectable } from '@nestjs/common';
import type { BeforeApplicationShutdown, INestMicroservice } from '@nestjs/common';
import type { RedisIoAdapter, RedisIoClientRole } from '@herald/redis-io-adapter';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';

export type TransportClientRole = 'transport_sub' | 'transport_pub';
export type RedisClientRole = RedisIoClientRole | TransportClientRole;
export const REDIS_CLIENT_ROLES: readonly RedisClientRole[] = ['adapter_pub', 'adapter_sub', 'transport_sub', 'transport_pub'];

/**
 * One view of every Redis connection the instance holds, fed by the Socket.IO adapter's clients and the
 * transport's clients. Readiness and metrics read it; every change is logged.
 */
@Injectable()
export class RedisStatusService implements BeforeApplicationShutdown {
  private closing = false;
  private readonly connected = new Map<RedisClientRole, boolean>(REDIS_CLIENT_ROLES.map((role) => [role, false]));
  private readonly listeners: Array<(role: RedisClientRole, connected: boolean) => void> = [];

  constructor(@InjectPinoLogger(RedisStatusService.name) private readonly logger: PinoLogger) {}

  watchAdapter(adapter: RedisIoAdapter): void {
    adapter.onConnectionChange((role, connected) => this.set(role, connected));
  }

  /**
   * Call before `startAllMicroservices()`: Nest attaches these listeners to the transport's ioredis clients
   * when it creates them. Nest itself reports only one combined status.
   */
  watchTransport(microservice: INestMicroservice): void {
    const on = (event: string, connected: boolean) =>
      microservice.on(event, (type: 'sub' | 'pub') => this.set(type === 'sub' ? 'transport_sub' : 'transport_pub', connected));
    on('ready', true);
    on('close', false);
    on('end', false);
  }

  /** Connections closed from here on are the shutdown's own doing, not an outage. */
  beforeApplicationShutdown(): void {
    this.closing = true;
  }

  onChange(listener: (role: RedisClientRole, connected: boolean) => void): void {
    this.listeners.push(listener);
  }

  isConnected(role: RedisClientRole): boolean {
    return this.connected.get(role) ?? false;
  }

  private set(role: RedisClientRole, connected: boolean): void {
    if (this.connected.get(role) === connected) return;
    this.connected.set(role, connected);
    if (connected || this.closing) this.logger.info({ role, connected }, connected ? 'redis connected' : 'redis closed');
    else if (role.startsWith('transport')) this.logger.error({ role }, 'redis transport disconnected: commands are lost until it reconnects');
    else this.logger.error({ role }, 'redis adapter disconnected: presence queries fail until it reconnects');
    for (const listener of this.listeners) listener(role, connected);
  }
}
