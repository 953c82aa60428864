import { Injectable } from '@nestjs/common';
import type { BeforeApplicationShutdown } from '@nestjs/common';
import { RedisClientRoles, type RedisClientRoleLabel } from '@herald/contracts';
import type { RedisIoAdapter } from '@herald/redis-io-adapter';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';

export type RedisClientRole = RedisClientRoleLabel;
export const REDIS_CLIENT_ROLES: readonly RedisClientRole[] = Object.values(RedisClientRoles);

/** Anything that reports the connection state of Redis clients by role. */
export type ConnectionSource = (listener: (role: RedisClientRole, connected: boolean) => void) => void;

const CONSEQUENCE: Record<RedisClientRole, string> = {
  adapter_pub: 'presence queries fail until it reconnects',
  adapter_sub: 'presence queries fail until it reconnects',
  route_sub: 'nothing is delivered live until it reconnects (sockets catch up from the store then)',
  store: 'nothing is stored or replayed until it reconnects (commands wait in the stream)',
  ingest: 'commands wait in the command stream until it reconnects',
  transport_pub: 'commands are not acknowledged and presence queries not answered until it reconnects',
  transport_sub: 'pub/sub commands are lost until it reconnects (stream commands are not)',
};

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

  /** The command transport, the router, the store: each reports its clients by role. */
  watch(source: ConnectionSource): void {
    source((role, connected) => this.set(role, connected));
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
    else this.logger.error({ role }, `redis ${role} disconnected: ${CONSEQUENCE[role]}`);
    for (const listener of this.listeners) listener(role, connected);
  }
}
