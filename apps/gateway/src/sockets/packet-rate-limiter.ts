import { Injectable } from '@nestjs/common';
import { AppConfig } from '../config/app-config.js';

/** One client's allowance: plain numbers, created on a socket's first packet (an idle socket has none). */
export interface PacketBucket {
  /** Packets it may still send now. */
  tokens: number;
  /** Packets refused since the last one allowed. */
  refused: number;
  /** When `tokens` was last brought up to date (ms, a monotonic clock). */
  at: number;
}

/** What to do with one packet: handle it, refuse it (`rate_limited` reply), or end the session (packet_rate_exceeded). */
export type PacketVerdict = 'allow' | 'limit' | 'exceeded';

/**
 * A token bucket per socket for what clients send (inbox requests, acknowledgements, anything else): on average
 * CLIENT_PACKETS_PER_SECOND, in bursts up to CLIENT_PACKET_BURST. A packet over it is refused (`limit`: the client gets
 * a `rate_limited` error and may retry later; a refusal costs the instance next to nothing). A client that sends a
 * whole burst more in a row while refused is flooding, not retrying: its session ends (`exceeded`). So one greedy
 * client cannot take the event loop (or Redis, behind its requests) from everyone else on the instance.
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
    return { tokens: this.burst, at: now, refused: 0 };
  }

  take(bucket: PacketBucket, now = performance.now()): PacketVerdict {
    const elapsed = Math.max(0, now - bucket.at);
    bucket.tokens = Math.min(this.burst, bucket.tokens + (elapsed * this.perSecond) / 1000);
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      bucket.refused = 0;
      return 'allow';
    }
    bucket.refused++;
    return bucket.refused >= this.burst ? 'exceeded' : 'limit';
  }
}
