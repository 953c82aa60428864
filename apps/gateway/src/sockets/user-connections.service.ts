import { Injectable, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import { userConnectionsKey } from '@herald/contracts';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { AppConfig } from '../config/app-config.js';
import { RedisInboxStore } from '../inbox/inbox-store.js';
import type { NotificationSocket } from './socket.types.js';

/**
 * Atomically: drop the user's expired leases, refuse when MAX are still live, otherwise add this socket's lease.
 * KEYS[1] the user's set; ARGV: member, now (ms), lease (ms), max. Returns the count after admission, or -count.
 */
const ADMIT = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local count = redis.call('ZCARD', KEYS[1])
if count >= tonumber(ARGV[4]) then return -count end
redis.call('ZADD', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return count + 1
`;

export type Admission = { admitted: true } | { admitted: false; open: number };

/**
 * How many sockets each user has open over all instances, for MAX_CONNECTIONS_PER_USER. Each socket holds a lease in
 * a per-user sorted set (`herald:{u:<id>}:conns`, the user's hash-tag slot), scored by when it expires. The instance
 * renews its sockets' leases every third of CONNECTION_LEASE_MS and removes a socket's lease when it disconnects; a
 * crashed instance renews nothing, so its sockets stop counting within one lease. Scores are this instance's clock:
 * skew between instances only moves expiry by the skew.
 */
@Injectable()
export class UserConnectionsService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly max: number;
  private readonly leaseMs: number;
  private readonly instanceId: string;
  private timer: NodeJS.Timeout | undefined;
  private sockets: () => Iterable<NotificationSocket> = () => [];

  constructor(
    config: AppConfig,
    private readonly store: RedisInboxStore,
    @InjectPinoLogger(UserConnectionsService.name) private readonly logger: PinoLogger,
  ) {
    this.max = config.limits.maxConnectionsPerUser;
    this.leaseMs = config.limits.connectionLeaseMs;
    this.instanceId = config.instanceId;
  }

  /** Where the renewal finds this instance's sockets (the namespace, once it exists). */
  renewFrom(sockets: () => Iterable<NotificationSocket>): void {
    this.sockets = sockets;
  }

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.renew(), Math.floor(this.leaseMs / 3));
    this.timer.unref();
  }

  beforeApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Takes a lease for the socket unless its user already has MAX_CONNECTIONS_PER_USER live ones. Rejects if Redis fails. */
  async admit(userId: string, socketId: string): Promise<Admission> {
    const result = (await this.store.client.eval(
      ADMIT,
      1,
      userConnectionsKey(userId),
      this.member(socketId),
      String(Date.now()),
      String(this.leaseMs),
      String(this.max),
    )) as number;
    return result > 0 ? { admitted: true } : { admitted: false, open: -result };
  }

  /** The socket disconnected: its lease goes now rather than at expiry. */
  release(socket: NotificationSocket): void {
    this.store.client.zrem(userConnectionsKey(socket.data.userId), this.member(socket.id)).catch((error: unknown) => {
      // The lease expires by itself within CONNECTION_LEASE_MS.
      this.logger.warn({ userId: socket.data.userId, error: String(error) }, 'releasing a connection lease failed');
    });
  }

  private member(socketId: string): string {
    return `${this.instanceId}/${socketId}`;
  }

  /** One pipeline for every local socket: its lease moves to now + lease (added again if Redis lost it). */
  private async renew(): Promise<void> {
    const pipeline = this.store.client.pipeline();
    const expiry = Date.now() + this.leaseMs;
    let count = 0;
    for (const socket of this.sockets()) {
      const key = userConnectionsKey(socket.data.userId);
      pipeline.zadd(key, expiry, this.member(socket.id));
      pipeline.pexpire(key, this.leaseMs);
      count++;
    }
    if (count === 0) return;
    try {
      await pipeline.exec();
    } catch (error) {
      this.logger.warn({ sockets: count, error: String(error) }, 'renewing connection leases failed; retried next round');
    }
  }
}
