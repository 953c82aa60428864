import { Injectable } from '@nestjs/common';
import {
  AuthFailureReasons,
  RequestErrorCodes,
  SessionRefreshOutcomes,
  SessionRefreshRequestSchema,
  type Reply,
  type RequestError,
  type SessionRefreshOutcome,
  type SessionRefreshReply,
} from '@herald/contracts';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { TokenRejectedError, TokenVerifierService } from '../auth/token-verifier.service.js';
import { MetricsService } from '../ops/metrics.service.js';
import { SessionExpiryService } from './session-expiry.service.js';
import type { NotificationSocket } from './socket.types.js';

/**
 * `session.refresh { token }`: a fresh token for the session's own user moves the session's end to the token's `exp`,
 * without reconnecting. Anything else (a bad payload, an invalid or expired token, another `sub`) is answered with an
 * error, logged and counted, and changes nothing: the session still ends at its old `exp`.
 */
@Injectable()
export class SessionRefreshService {
  constructor(
    private readonly tokens: TokenVerifierService,
    private readonly expiries: SessionExpiryService,
    private readonly metrics: MetricsService,
    @InjectPinoLogger(SessionRefreshService.name) private readonly logger: PinoLogger,
  ) {}

  async refresh(socket: NotificationSocket, payload: unknown): Promise<Reply<SessionRefreshReply>> {
    const request = SessionRefreshRequestSchema.safeParse(payload);
    if (!request.success) {
      const detail = request.error.issues.map((issue) => `${issue.path.join('.') || 'payload'}: ${issue.message}`).join('; ');
      return this.refuse(socket, SessionRefreshOutcomes.InvalidRequest, RequestErrorCodes.InvalidRequest, detail, detail);
    }
    let verified: Awaited<ReturnType<TokenVerifierService['verify']>>;
    try {
      verified = await this.tokens.verify(request.data.token);
    } catch (error) {
      const expired = error instanceof TokenRejectedError && error.reason === AuthFailureReasons.ExpiredToken;
      const detail = error instanceof Error ? error.message : String(error);
      return expired
        ? this.refuse(socket, SessionRefreshOutcomes.ExpiredToken, RequestErrorCodes.InvalidToken, 'expired_token: the token has expired', detail)
        : this.refuse(socket, SessionRefreshOutcomes.InvalidToken, RequestErrorCodes.InvalidToken, 'invalid_token: the token is not valid here', detail);
    }
    const { userId } = socket.data;
    if (verified.userId !== userId) {
      return this.refuse(
        socket,
        SessionRefreshOutcomes.OtherUser,
        RequestErrorCodes.InvalidToken,
        'invalid_token: the token is for another user',
        `sub ${verified.userId}`,
      );
    }
    // Verification is asynchronous (a JWKS fetch): a socket gone meanwhile must not be scheduled again.
    if (!socket.connected)
      return this.refuse(socket, SessionRefreshOutcomes.Closed, RequestErrorCodes.InvalidRequest, 'the session has ended', 'disconnected while verifying');
    const exp = Math.ceil(verified.expiresAt / 1000);
    const previous = socket.data.tokenExp;
    this.expiries.extend(socket, exp);
    this.metrics.sessionRefreshed(SessionRefreshOutcomes.Refreshed);
    this.logger.debug({ userId, socketId: socket.id, previousExp: previous, exp }, 'session refreshed');
    return { exp };
  }

  private refuse(socket: NotificationSocket, outcome: SessionRefreshOutcome, code: RequestError['error']['code'], message: string, detail: string): RequestError {
    this.metrics.sessionRefreshed(outcome);
    this.logger.info({ userId: socket.data.userId, socketId: socket.id, outcome, detail }, 'session refresh refused');
    return { error: { code, message } };
  }
}
