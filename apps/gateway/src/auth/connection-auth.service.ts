import { Injectable } from '@nestjs/common';
import { ConnectRefusalReasons, UNAUTHORIZED_MESSAGE, UNAVAILABLE_MESSAGE, type ConnectErrorData, type ConnectRefusalReason } from '@herald/contracts';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { ExtendedError } from 'socket.io';
import { ClientAddressService } from '../edge/client-address.service.js';
import { TokenRejectedError, TokenVerifierService, extractToken } from './token-verifier.service.js';
import { DrainState } from '../ops/drain-state.service.js';
import { MetricsService } from '../ops/metrics.service.js';
import type { NotificationSocket } from '../sockets/socket.types.js';

/** The Socket.IO namespace middleware that decides whether a handshake becomes a connection. */
@Injectable()
export class ConnectionAuthService {
  constructor(
    private readonly drain: DrainState,
    private readonly tokens: TokenVerifierService,
    private readonly metrics: MetricsService,
    @InjectPinoLogger(ConnectionAuthService.name) private readonly logger: PinoLogger,
    private readonly clientAddress: ClientAddressService,
  ) {}

  readonly middleware = (socket: NotificationSocket, next: (err?: ExtendedError) => void): void => {
    if (!this.drain.isAccepting) {
      this.metrics.connectionRejected(ConnectRefusalReasons.ShuttingDown);
      next(refusal(UNAVAILABLE_MESSAGE, ConnectRefusalReasons.ShuttingDown));
      return;
    }
    const { auth, headers } = socket.handshake;
    const address = this.clientAddress.of(socket.request);
    this.tokens
      .verify(extractToken(auth, headers.authorization))
      .then(({ userId, expiresAt }) => {
        socket.data.userId = userId;
        socket.data.tokenExp = Math.ceil(expiresAt / 1000);
        next();
      })
      .catch((error: unknown) => {
        const reason = error instanceof TokenRejectedError ? error.reason : ConnectRefusalReasons.InvalidToken;
        this.metrics.connectionRejected(reason);
        this.logger.info({ reason, detail: error instanceof Error ? error.message : String(error), address }, 'handshake refused');
        next(refusal(UNAUTHORIZED_MESSAGE, reason));
      });
  };
}

function refusal(message: string, reason: ConnectRefusalReason): ExtendedError {
  const error: ExtendedError = new Error(message);
  error.data = { reason } satisfies ConnectErrorData;
  return error;
}
