import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { AuthFailureReasons } from '@herald/contracts';
import { SignJWT } from 'jose';
import { loadConfig } from '../config/app-config.js';
import { TokenRejectedError, TokenVerifierService, extractToken } from './token-verifier.service.js';

const SECRET = 'unit-test-secret-0123456789abcdef';
const now = () => Math.floor(Date.now() / 1000);

const verifier = (env: Record<string, string>) => new TokenVerifierService(loadConfig(env));

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TokenRejectedError, `expected TokenRejectedError, got ${String(error)}`);
    return error.reason;
  }
  assert.fail('the token was accepted');
}

describe('TokenVerifierService', () => {
  describe('HS256 with JWT_SECRET', () => {
    const service = verifier({ JWT_SECRET: SECRET });
    const sign = (claims: { sub?: string; exp?: number }, secret = SECRET, alg = 'HS256') => {
      let jwt = new SignJWT({}).setProtectedHeader({ alg });
      if (claims.sub !== undefined) jwt = jwt.setSubject(claims.sub);
      if (claims.exp !== undefined) jwt = jwt.setExpirationTime(claims.exp);
      return jwt.sign(new TextEncoder().encode(secret));
    };

    it('accepts a valid token and returns sub and exp in ms', async () => {
      const exp = now() + 60;
      assert.deepEqual(await service.verify(await sign({ sub: 'u1', exp })), { userId: 'u1', expiresAt: exp * 1000 });
    });
    it('rejects a missing token', async () => {
      assert.equal(await rejection(service.verify(undefined)), AuthFailureReasons.MissingToken);
    });
    it('rejects an expired token as expired', async () => {
      assert.equal(await rejection(service.verify(await sign({ sub: 'u1', exp: now() - 10 }))), AuthFailureReasons.ExpiredToken);
    });
    it('rejects a token without exp', async () => {
      assert.equal(await rejection(service.verify(await sign({ sub: 'u1' }))), AuthFailureReasons.InvalidToken);
    });
    it('rejects a token without sub', async () => {
      assert.equal(await rejection(service.verify(await sign({ exp: now() + 60 }))), AuthFailureReasons.InvalidToken);
    });
    it('rejects a bad signature', async () => {
      const token = await sign({ sub: 'u1', exp: now() + 60 }, 'another-secret-0123456789abcdef');
      assert.equal(await rejection(service.verify(token)), AuthFailureReasons.InvalidToken);
    });
    it('rejects HS384/HS512, so only the configured algorithm passes', async () => {
      const token = await sign({ sub: 'u1', exp: now() + 60 }, SECRET, 'HS512');
      assert.equal(await rejection(service.verify(token)), AuthFailureReasons.InvalidToken);
    });
    it('rejects alg: none', async () => {
      const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
      const token = `${part({ alg: 'none' })}.${part({ sub: 'u1', exp: now() + 60 })}.`;
      assert.equal(await rejection(service.verify(token)), AuthFailureReasons.InvalidToken);
    });
    it('rejects garbage', async () => {
      assert.equal(await rejection(service.verify('a.b.c')), AuthFailureReasons.InvalidToken);
    });
  });

  for (const [kind, alg, options] of [
    ['rsa', 'RS256', { modulusLength: 2048 }],
    ['ec', 'ES256', { namedCurve: 'P-256' }],
  ] as const) {
    describe(`${alg} with JWT_PUBLIC_KEY`, () => {
      const { publicKey, privateKey } = generateKeyPairSync(kind as 'rsa', options as { modulusLength: number });
      const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
      const service = verifier({ JWT_PUBLIC_KEY: pem, JWT_ISSUER: 'https://issuer', JWT_AUDIENCE: 'herald' });
      const sign = (issuer = 'https://issuer', audience = 'herald') =>
        new SignJWT({})
          .setProtectedHeader({ alg })
          .setSubject('u2')
          .setExpirationTime(now() + 60)
          .setIssuer(issuer)
          .setAudience(audience)
          .sign(privateKey);

      it('accepts a token signed by the private key', async () => {
        assert.equal((await service.verify(await sign())).userId, 'u2');
      });
      it('rejects the wrong issuer and the wrong audience', async () => {
        assert.equal(await rejection(service.verify(await sign('https://other'))), AuthFailureReasons.InvalidToken);
        assert.equal(await rejection(service.verify(await sign('https://issuer', 'other'))), AuthFailureReasons.InvalidToken);
      });
      it('rejects an HS256 token keyed with the public key text (algorithm confusion)', async () => {
        const forged = await new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setSubject('u2')
          .setExpirationTime(now() + 60)
          .sign(new TextEncoder().encode(pem));
        assert.equal(await rejection(service.verify(forged)), AuthFailureReasons.InvalidToken);
      });
    });
  }
});

describe('extractToken', () => {
  it('prefers auth.token, falls back to a Bearer header, and ignores anything else', () => {
    assert.equal(extractToken({ token: 'a' }, 'Bearer b'), 'a');
    assert.equal(extractToken({}, 'Bearer b'), 'b');
    assert.equal(extractToken(undefined, 'bearer   b  '), 'b');
    assert.equal(extractToken({ token: 42 }, 'Basic xyz'), undefined);
    assert.equal(extractToken({ token: '' }, undefined), undefined);
  });
});
