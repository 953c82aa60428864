import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AuthFailureReasons } from '@herald/contracts';
import { SignJWT, type JWK } from 'jose';
import { ConfigError, loadConfig } from '../config/app-config.js';
import { TokenRejectedError, TokenVerifierService } from './token-verifier.service.js';

const now = (): number => Math.floor(Date.now() / 1000);

interface SigningKey {
  kid: string;
  alg: string;
  privateKey: KeyObject;
  jwk: JWK;
}

function signingKey(kid: string, alg: 'RS256' | 'ES256', pinAlg = true): SigningKey {
  const { publicKey, privateKey } = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk: JWK = { ...(publicKey.export({ format: 'jwk' }) as JWK), kid, use: 'sig', ...(pinAlg ? { alg } : {}) };
  return { kid, alg, privateKey, jwk };
}

const sign = (key: SigningKey, sub = 'jwks-user', header: Record<string, string> = {}): Promise<string> =>
  new SignJWT({})
    .setProtectedHeader({ alg: key.alg, kid: key.kid, ...header })
    .setSubject(sub)
    .setExpirationTime(now() + 60)
    .sign(key.privateKey);

/** A real JWKS endpoint on loopback: what it serves can be rotated, and it counts its fetches. */
class JwksServer {
  keys: JWK[] = [];
  fetches = 0;
  private constructor(private readonly server: Server) {}

  static async start(): Promise<JwksServer> {
    const holder: { jwks?: JwksServer } = {};
    const server = createServer((_request, response) => {
      const jwks = holder.jwks;
      if (!jwks) return void response.writeHead(503).end();
      jwks.fetches++;
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: jwks.keys }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    holder.jwks = new JwksServer(server);
    return holder.jwks;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/.well-known/jwks.json`;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

async function rejection(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof TokenRejectedError, `expected TokenRejectedError, got ${String(error)}`);
    return `${error.reason}: ${error.message}`;
  }
  assert.fail('the token was accepted');
}

describe('TokenVerifierService with JWT_JWKS_URL (a real HTTP server serving the key set)', () => {
  let server: JwksServer;
  const first = signingKey('key-2026-01', 'RS256');
  const second = signingKey('key-2026-02', 'ES256');
  const verifier = (env: Record<string, string> = {}): TokenVerifierService => new TokenVerifierService(loadConfig({ JWT_JWKS_URL: server.url, ...env }));

  before(async () => {
    server = await JwksServer.start();
  });
  after(() => server.stop());

  it('rotation: a new kid is fetched and accepted, a removed kid is refused', async () => {
    server.keys = [first.jwk];
    const service = verifier({ JWT_JWKS_COOLDOWN_SECONDS: '0' });
    assert.deepEqual((await service.verify(await sign(first, 'u-1'))).userId, 'u-1');
    assert.equal(server.fetches, 1);
    // Cached: a second token of the same key fetches nothing.
    await service.verify(await sign(first, 'u-1'));
    assert.equal(server.fetches, 1);

    server.keys = [second.jwk]; // the identity provider rotated: first removed
    assert.equal((await service.verify(await sign(second, 'u-2'))).userId, 'u-2');
    assert.equal(server.fetches, 2, 'the unknown kid caused one fetch');
    assert.match(await rejection(service.verify(await sign(first, 'u-1'))), /^invalid_token: .*JWKS/);
  });

  it('unknown kids fetch the set again at most once per cooldown (a flood of made-up kids is not a flood of fetches)', async () => {
    server.keys = [first.jwk];
    const before = server.fetches;
    const service = verifier({ JWT_JWKS_COOLDOWN_SECONDS: '60' });
    await service.verify(await sign(first));
    for (let n = 0; n < 20; n++) {
      const madeUp = signingKey(`made-up-${n}`, 'ES256');
      assert.match(await rejection(service.verify(await sign(madeUp))), /^invalid_token/);
    }
    assert.equal(server.fetches - before, 1);
  });

  it('alg is pinned by the key: another algorithm on the same key, HMAC with the public key, none, or a key without alg are refused', async () => {
    const unpinned = signingKey('no-alg', 'RS256', false);
    server.keys = [first.jwk, second.jwk, unpinned.jwk];
    const service = verifier();
    assert.equal((await service.verify(await sign(second, 'ec-user'))).userId, 'ec-user');

    // PS256 with the RS256 key's private key: a valid signature, but not the key's algorithm.
    const ps256 = await new SignJWT({})
      .setProtectedHeader({ alg: 'PS256', kid: first.kid })
      .setSubject('x')
      .setExpirationTime(now() + 60)
      .sign(first.privateKey);
    assert.match(await rejection(service.verify(ps256)), /^invalid_token/);
    // HS256 keyed with the public key's published text (HS/RS confusion).
    const hmac = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256', kid: first.kid })
      .setSubject('x')
      .setExpirationTime(now() + 60)
      .sign(new TextEncoder().encode(JSON.stringify(first.jwk)));
    assert.match(await rejection(service.verify(hmac)), /^invalid_token/);
    const part = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    assert.match(await rejection(service.verify(`${part({ alg: 'none', kid: first.kid })}.${part({ sub: 'x', exp: now() + 60 })}.`)), /^invalid_token/);
    assert.match(await rejection(service.verify(await sign(unpinned))), /^invalid_token: JWKS key no-alg pins alg \(none/);
  });

  it('next to a static key: a token without kid goes to JWT_SECRET, one with a kid to the JWKS only', async () => {
    const secret = 'jwks-side-secret-0123456789abcdef';
    server.keys = [first.jwk];
    const service = verifier({ JWT_SECRET: secret });
    const hs256 = (header: Record<string, string>): Promise<string> =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'HS256', ...header })
        .setSubject('static-user')
        .setExpirationTime(now() + 60)
        .sign(new TextEncoder().encode(secret));
    assert.equal((await service.verify(await hs256({}))).userId, 'static-user');
    assert.equal((await service.verify(await sign(first, 'jwks-user'))).userId, 'jwks-user');
    // The secret's token naming a JWKS kid is judged by the JWKS: HMAC is not an algorithm any JWKS key can pin.
    assert.match(await rejection(service.verify(await hs256({ kid: first.kid }))), /^invalid_token/);
    // With the JWKS alone, a token without kid has no key.
    assert.match(await rejection(verifier().verify(await hs256({}))), /^invalid_token: the token names no kid/);
  });

  it('an expired token of a JWKS key is refused as expired', async () => {
    server.keys = [first.jwk];
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'RS256', kid: first.kid })
      .setSubject('x')
      .setExpirationTime(now() - 10)
      .sign(first.privateKey);
    assert.equal((await rejection(verifier().verify(expired))).split(':')[0], AuthFailureReasons.ExpiredToken);
  });

  it('configuration: JWT_JWKS_URL alone is enough; plain http only on loopback', () => {
    assert.equal(loadConfig({ JWT_JWKS_URL: 'https://idp.example/.well-known/jwks.json' }).jwt.key, undefined);
    assert.throws(() => loadConfig({ JWT_JWKS_URL: 'http://idp.example/jwks.json' }), ConfigError);
    assert.throws(() => loadConfig({ JWT_JWKS_URL: 'not a url' }), /JWT_JWKS_URL/);
    assert.throws(() => loadConfig({}), /JWT_JWKS_URL/);
  });
});
