import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';

/** One client's allowance: plain numbers, so it can live on whatever already exists per connection. */
export interface PacketBucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms, a monotonic clock). */
  at: number;
}

/**
 * A token bucket per socket for what clients send (requests such as inbox.list, acknowledgements, anything else): on
 * average CLIENT_PACKETS_PER_SECOND, in bursts up to CLIENT_PACKET_BURST. A client over it has its session ended with
 * `packet_rate_exceeded` (by whoever calls `take`: the client request dispatcher), so one greedy client cannot take
 * the event loop (or Redis, behind its requests) from everyone else on the instance.
 */
@Injectable()
export class PacketRateLimiter {
  readonly perSecond: number;
  readonly burst: number;

  constructor(config: AppConfig) {
    this.perSecond = config.limits.clientPacketsPerSecond;
    this.burst = config.limits.clientPacketBurst;
  }

  /** A full bucket: a new connection may burst at once. */
  bucket(now = performance.now()): PacketBucket {
    return { tokens: this.burst, at: now };
  }

  /** Takes one packet's token; false when there is none left (the packet is over the limit). */
  take(bucket: PacketBucket, now = performance.now()): boolean {
    const elapsed = Math.max(0, now - bucket.at);
    bucket.tokens = Math.min(this.burst, bucket.tokens + (elapsed * this.perSecond) / 1000);
    bucket.at = now;
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
