import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { Injectable } from '@nestjs/common';
import proxyAddr from 'proxy-addr';
import { AppConfig } from '../config/app-config.js';

/**
 * The address of the client behind our proxies. Socket.IO's `handshake.address` is the raw TCP peer (nginx, when
 * deployed behind it); this applies the same rule as Express's `trust proxy` (TRUSTED_PROXIES, via proxy-addr):
 * X-Forwarded-For hops are believed only while they come from a trusted proxy, so a client cannot spoof its address.
 */
@Injectable()
export class ClientAddressService {
  private readonly trust: (address: string, hop: number) => boolean;

  constructor(config: AppConfig) {
    this.trust = proxyAddr.compile(config.trustedProxies);
  }

  /** The client's address for logs: the nearest untrusted hop, or the raw peer when a trusted hop forwarded garbage. */
  of(request: IncomingMessage): string {
    const peer = request.socket.remoteAddress;
    // A socket already torn down has no remoteAddress; proxy-addr needs one.
    if (!peer) return 'unknown';
    const address = proxyAddr(request, this.trust);
    return isIP(address) ? address : peer;
  }
}
