import { createPublicKey, type KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AuthFailureReasons, type AuthFailureReason } from '@herald/contracts';
import { errors, jwtVerify, type JWTVerifyOptions } from 'jose';
import { AppConfig } from '../config/app-config.js';

export interface VerifiedToken {
  userId: string;
  /** Epoch milliseconds. */
  expiresAt: number;
}

export class TokenRejectedError extends Error {
  override readonly name = 'TokenRejectedError';
  constructor(
    readonly reason: AuthFailureReason,
    detail: string,
  ) {
    super(detail);
  }
}

/** Verifies client JWTs. Only the algorithms that match the configured key are accepted, so `alg: none` and HS/RS confusion fail. */
@Injectable()
export class TokenVerifierService {
  private readonly key: Uint8Array | KeyObject;
  private readonly options: JWTVerifyOptions;

  constructor(config: AppConfig) {
    const { key, issuer, audience } = config.jwt;
    if (key.kind === 'secret') {
      this.key = new TextEncoder().encode(key.secret);
      this.options = { algorithms: ['HS256'] };
    } else {
      const publicKey = createPublicKey(key.pem);
      this.key = publicKey;
      this.options = { algorithms: publicKey.asymmetricKeyType === 'ec' ? ['ES256'] : ['RS256'] };
    }
    this.options = { ...this.options, requiredClaims: ['exp', 'sub'], issuer, audience };
  }

  async verify(token: string | undefined): Promise<VerifiedToken> {
    if (!token) {
      throw new TokenRejectedError(AuthFailureReasons.MissingToken, 'no token in auth.token or Authorization header');
    }
    try {
      const { payload } = await jwtVerify(token, this.key, this.options);
      if (typeof payload.sub !== 'string' || payload.sub.length === 0 || typeof payload.exp !== 'number') {
        throw new TokenRejectedError(AuthFailureReasons.InvalidToken, 'sub must be a non-empty string and exp a number');
      }
      return { userId: payload.sub, expiresAt: payload.exp * 1000 };
    } catch (error) {
      if (error instanceof TokenRejectedError) throw error;
      if (error instanceof errors.JWTExpired) {
        throw new TokenRejectedError(AuthFailureReasons.ExpiredToken, error.message);
      }
      const detail = error instanceof errors.JOSEError ? `${error.code}: ${error.message}` : String(error);
      throw new TokenRejectedError(AuthFailureReasons.InvalidToken, detail);
    }
  }
}

/** The token a handshake carries: `auth.token` (browsers) or `Authorization: Bearer` (other clients). */
export function extractToken(auth: Record<string, unknown> | undefined, authorization: string | undefined): string | undefined {
  const fromAuth = auth?.['token'];
  if (typeof fromAuth === 'string' && fromAuth.length > 0) return fromAuth;
  const match = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  return match?.[1];
}
