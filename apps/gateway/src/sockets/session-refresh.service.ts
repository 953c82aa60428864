import { Injectable } from '@nestjs/common';
import {
  AuthFailureReasons,
  ClientRequests,
  RequestErrorCodes,
  SessionRefreshOutcomes,
  SessionRefreshRequestSchema,
  type SessionRefreshOutcome,
  type SessionRefreshReply,
} from '@herald/contracts';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import type { z } from 'zod';
import { TokenRejectedError, TokenVerifierService } from '../auth/token-verifier.service.js';
import { MetricsService } from '../ops/metrics.service.js';
import { OnClientRequest, RequestFailure } from './client-request.decorator.js';
import { SessionExpiryService } from './session-expiry.service.js';
import type { NotificationSocket } from './socket.types.js';

/**
 * `session.refresh { token }`: a fresh token for the session's own user moves the session's end to the token's `exp`,
 * without reconnecting. An invalid or expired token, or one for another `sub`, is refused (`invalid_token`, answered,
 * logged and counted by ClientRequestDispatcher; the finer outcome in herald_session_refreshes_total) and changes
 * nothing: the session still ends at its old `exp`.
 */
@Injectable()
export class SessionRefreshService {
  constructor(
    private readonly tokens: TokenVerifierService,
    private readonly expiries: SessionExpiryService,
    private readonly metrics: MetricsService,
    @InjectPinoLogger(SessionRefreshService.name) private readonly logger: PinoLogger,
  ) {}

  @OnClientRequest(ClientRequests.SessionRefresh, SessionRefreshRequestSchema)
  async refresh(socket: NotificationSocket, request: z.output<typeof SessionRefreshRequestSchema>): Promise<SessionRefreshReply> {
    let verified: Awaited<ReturnType<TokenVerifierService['verify']>>;
    try {
      verified = await this.tokens.verify(request.token);
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      if (error instanceof TokenRejectedError && error.reason === AuthFailureReasons.ExpiredToken) {
        throw this.refused(socket, SessionRefreshOutcomes.ExpiredToken, 'expired_token: the token has expired', detail);
      }
      throw this.refused(socket, SessionRefreshOutcomes.InvalidToken, 'invalid_token: the token is not valid here', detail);
    }
    const { userId } = socket.data;
    if (verified.userId !== userId) {
      throw this.refused(socket, SessionRefreshOutcomes.OtherUser, 'invalid_token: the token is for another user', `sub ${verified.userId}`);
    }
    // Verification is asynchronous (a JWKS fetch): a socket gone meanwhile must not be scheduled again.
    if (!socket.connected)
      throw this.refused(socket, SessionRefreshOutcomes.Closed, 'the session has ended', 'disconnected while verifying', RequestErrorCodes.InvalidRequest);
    const exp = Math.ceil(verified.expiresAt / 1000);
    const previous = socket.data.tokenExp;
    this.expiries.extend(socket, exp);
    this.metrics.sessionRefreshed(SessionRefreshOutcomes.Refreshed);
    this.logger.debug({ userId, socketId: socket.id, previousExp: previous, exp }, 'session refreshed');
    return { exp };
  }

  private refused(
    socket: NotificationSocket,
    outcome: SessionRefreshOutcome,
    message: string,
    detail: string,
    code: RequestFailure['code'] = RequestErrorCodes.InvalidToken,
  ): RequestFailure {
    this.metrics.sessionRefreshed(outcome);
    // The dispatcher logs the refusal with its message; the verifier's own words are for debugging only.
    this.logger.debug({ userId: socket.data.userId, socketId: socket.id, outcome, detail }, 'session refresh refused');
    return new RequestFailure(code, message);
  }
}
