import { createPublicKey, type KeyObject } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AuthFailureReasons, type AuthFailureReason } from '@herald/contracts';
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTVerifyOptions, type RemoteJWKSet } from 'jose';
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

/** Algorithms a key of the JWKS may pin: asymmetric only, so no HMAC (HS/RS confusion) and never `none`. */
export const JWKS_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;

/**
 * Verifies client JWTs against the static key (JWT_SECRET or JWT_PUBLIC_KEY) and/or the JWKS (JWT_JWKS_URL). A token
 * whose header names a `kid` is verified by that key of the JWKS; one without, by the static key. Every key accepts one
 * algorithm only: the static key's is fixed by its type, a JWKS key's by its `alg` member (a key without one is
 * refused), so `alg: none` and HS/RS confusion fail.
 */
@Injectable()
export class TokenVerifierService {
  private readonly staticKey?: { key: Uint8Array | KeyObject; algorithm: string };
  private readonly jwks?: RemoteJWKSet;
  private readonly claims: JWTVerifyOptions;

  constructor(config: AppConfig) {
    const { key, jwks, issuer, audience } = config.jwt;
    if (key?.kind === 'secret') this.staticKey = { key: new TextEncoder().encode(key.secret), algorithm: 'HS256' };
    if (key?.kind === 'public-key') {
      const publicKey = createPublicKey(key.pem);
      this.staticKey = { key: publicKey, algorithm: publicKey.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256' };
    }
    // jose caches the set for cacheMaxAge and fetches it again on an unknown kid, at most once per cooldown.
    if (jwks) this.jwks = createRemoteJWKSet(new URL(jwks.url), { cacheMaxAge: jwks.cacheMaxAgeMs, cooldownDuration: jwks.cooldownMs, timeoutDuration: jwks.timeoutMs });
    this.claims = { requiredClaims: ['exp', 'sub'], issuer, audience };
  }

  async verify(token: string | undefined): Promise<VerifiedToken> {
    if (!token) {
      throw new TokenRejectedError(AuthFailureReasons.MissingToken, 'no token in auth.token or Authorization header');
    }
    try {
      const { payload } = await this.verifySignature(token);
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

  private verifySignature(token: string): ReturnType<typeof jwtVerify> {
    const header = protectedHeaderOf(token);
    const jwks = this.jwks;
    if (typeof header.kid === 'string' && jwks) {
      return jwtVerify(
        token,
        async (protectedHeader, input) => {
          const key = await jwks(protectedHeader, input);
          // jose matched kid and key type; the key's own `alg` must be the token's, so one key means one algorithm.
          const pinned = jwks.jwks()?.keys.find((candidate) => candidate.kid === protectedHeader.kid)?.alg;
          if (pinned !== protectedHeader.alg) {
            throw new TokenRejectedError(
              AuthFailureReasons.InvalidToken,
              `JWKS key ${String(protectedHeader.kid)} pins alg ${pinned ?? '(none: a JWKS key must name its alg)'}, the token says ${String(protectedHeader.alg)}`,
            );
          }
          return key;
        },
        { ...this.claims, algorithms: [...JWKS_ALGORITHMS] },
      );
    }
    if (!this.staticKey) {
      throw new TokenRejectedError(AuthFailureReasons.InvalidToken, 'the token names no kid, and only JWKS keys are configured');
    }
    return jwtVerify(token, this.staticKey.key, { ...this.claims, algorithms: [this.staticKey.algorithm] });
  }
}

/** The JOSE header, or a rejection: it decides which key verifies the token. */
function protectedHeaderOf(token: string): ReturnType<typeof decodeProtectedHeader> {
  try {
    return decodeProtectedHeader(token);
  } catch (error) {
    throw new TokenRejectedError(AuthFailureReasons.InvalidToken, `unreadable token header: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** The token a handshake carries: `auth.token` (browsers) or `Authorization: Bearer` (other clients). */
export function extractToken(auth: Record<string, unknown> | undefined, authorization: string | undefined): string | undefined {
  const fromAuth = auth?.['token'];
  if (typeof fromAuth === 'string' && fromAuth.length > 0) return fromAuth;
  const match = authorization ? /^Bearer\s+(\S+)\s*$/i.exec(authorization) : null;
  return match?.[1];
}
