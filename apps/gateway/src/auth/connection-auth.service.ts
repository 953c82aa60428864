import { Injectable } from '@nestjs/common';
import { ConnectRefusalReasons, LIMITED_MESSAGE, UNAUTHORIZED_MESSAGE, UNAVAILABLE_MESSAGE, type ConnectErrorData, type ConnectRefusalReason } from '@herald/contracts';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { ExtendedError } from 'socket.io';
import { AppConfig } from '../config/app-config.js';
import { ClientAddressService } from '../edge/client-address.service.js';
import { TokenRejectedError, TokenVerifierService, extractToken } from './token-verifier.service.js';
import { DrainState } from '../ops/drain-state.service.js';
import { MetricsService } from '../ops/metrics.service.js';
import type { NotificationSocket } from '../sockets/socket.types.js';
import { UserConnectionsService } from '../sockets/user-connections.service.js';

/**
 * The Socket.IO namespace middleware that decides whether a handshake becomes a connection: not while draining, not
 * beyond MAX_CONNECTIONS_PER_INSTANCE (checked before the token, so a flood of handshakes costs no signature checks),
 * only with a valid token, and only within the user's MAX_CONNECTIONS_PER_USER over all instances.
 */
@Injectable()
export class ConnectionAuthService {
  private readonly maxPerInstance: number;

  constructor(
    config: AppConfig,
    private readonly connections: UserConnectionsService,
    private readonly drain: DrainState,
    private readonly tokens: TokenVerifierService,
    private readonly metrics: MetricsService,
    @InjectPinoLogger(ConnectionAuthService.name) private readonly logger: PinoLogger,
    private readonly clientAddress: ClientAddressService,
  ) {
    this.maxPerInstance = config.limits.maxConnectionsPerInstance;
  }

  readonly middleware = (socket: NotificationSocket, next: (err?: ExtendedError) => void): void => {
    if (!this.drain.isAccepting) {
      this.metrics.connectionRejected(ConnectRefusalReasons.ShuttingDown);
      next(refusal(UNAVAILABLE_MESSAGE, ConnectRefusalReasons.ShuttingDown));
      return;
    }
    const address = this.clientAddress.of(socket.request);
    if (socket.nsp.sockets.size >= this.maxPerInstance) {
      this.refuse(next, UNAVAILABLE_MESSAGE, ConnectRefusalReasons.InstanceFull, { address, limit: this.maxPerInstance });
      return;
    }
    const { auth, headers } = socket.handshake;
    this.tokens.verify(extractToken(auth, headers.authorization)).then(
      ({ userId, expiresAt }) => {
        socket.data.userId = userId;
        socket.data.tokenExp = Math.ceil(expiresAt / 1000);
        this.connections.admit(userId, socket.id).then(
          (admission) => {
            if (admission.admitted) next();
            else this.refuse(next, LIMITED_MESSAGE, ConnectRefusalReasons.TooManyConnections, { address, userId, open: admission.open });
          },
          (error: unknown) => this.refuse(next, UNAVAILABLE_MESSAGE, ConnectRefusalReasons.LimitUnavailable, { address, userId, detail: String(error) }),
        );
      },
      (error: unknown) => {
        const reason = error instanceof TokenRejectedError ? error.reason : ConnectRefusalReasons.InvalidToken;
        this.refuse(next, UNAUTHORIZED_MESSAGE, reason, { address, detail: error instanceof Error ? error.message : String(error) });
      },
    );
  };

  private refuse(next: (err?: ExtendedError) => void, message: string, reason: ConnectRefusalReason, context: Record<string, unknown>): void {
    this.metrics.connectionRejected(reason);
    this.logger.info({ reason, ...context }, 'handshake refused');
    next(refusal(message, reason));
  }
}

function refusal(message: string, reason: ConnectRefusalReason): ExtendedError {
  const error: ExtendedError = new Error(message);
  error.data = { reason } satisfies ConnectErrorData;
  return error;
}
