import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEVELOPMENT_JWT_SECRET } from '@herald/contracts';
import { ConfigError, loadConfig } from './app-config.js';

const SECRET = 'unit-test-secret-0123456789';

describe('loadConfig', () => {
  it('applies defaults', () => {
    const config = loadConfig({ JWT_SECRET: SECRET });
    assert.equal(config.port, 3000);
    assert.equal(config.maxPayloadBytes, 65536);
    assert.equal(config.redis.url, 'redis://127.0.0.1:6379');
    assert.equal(config.logLevel, 'info');
    assert.deepEqual(config.corsOrigins, []);
    assert.ok(config.instanceId.length > 0);
  });

  it('applies the defaults of the canary and the limits, and refuses a socket buffer smaller than two payloads', () => {
    const config = loadConfig({ JWT_SECRET: SECRET });
    assert.deepEqual(config.canary, { intervalMs: 2000, timeoutMs: 1000, maxMisses: 3 });
    assert.deepEqual(config.limits, {
      maxSocketBufferBytes: 1_048_576,
      maxConnectionsPerUser: 20,
      connectionLeaseMs: 60_000,
      maxConnectionsPerInstance: 50_000,
      maxClientPacketBytes: 16_384,
      clientPacketsPerSecond: 20,
      clientPacketBurst: 40,
    });
    assert.throws(() => loadConfig({ JWT_SECRET: SECRET, MAX_SOCKET_BUFFER_BYTES: '100000' }), /MAX_SOCKET_BUFFER_BYTES: must be at least twice MAX_PAYLOAD_BYTES/);
    assert.throws(() => loadConfig({ JWT_SECRET: SECRET, MAX_CONNECTIONS_PER_USER: '0' }), /MAX_CONNECTIONS_PER_USER:/);
    assert.throws(() => loadConfig({ JWT_SECRET: SECRET, ROUTE_CANARY_INTERVAL_MS: '10' }), /ROUTE_CANARY_INTERVAL_MS:/);
  });

  it('applies the defaults of ingest, and refuses a read wait over 100 ms', () => {
    assert.deepEqual(loadConfig({ JWT_SECRET: SECRET }).ingest, { claimIdleMs: 30_000, maxAttempts: 5, ordered: true, leaseMs: 3000, readWaitMs: 1 });
    assert.equal(loadConfig({ JWT_SECRET: SECRET, INGEST_READ_WAIT_MS: '0' }).ingest.readWaitMs, 0);
    assert.throws(() => loadConfig({ JWT_SECRET: SECRET, INGEST_READ_WAIT_MS: '500' }), /INGEST_READ_WAIT_MS:/);
  });

  it('parses REDIS_URL into connection parts', () => {
    const { redis } = loadConfig({ JWT_SECRET: SECRET, REDIS_URL: 'rediss://user:p%40ss@cache.internal:6380/2' });
    assert.deepEqual(redis, {
      url: 'rediss://user:p%40ss@cache.internal:6380/2',
      host: 'cache.internal',
      port: 6380,
      username: 'user',
      password: 'p@ss',
      db: 2,
      tls: true,
    });
  });

  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ['no JWT key', {}, /JWT_SECRET: set JWT_SECRET \(HS256\), JWT_PUBLIC_KEY \(RS256\/ES256\) or JWT_JWKS_URL/],
    ['both JWT keys', { JWT_SECRET: SECRET, JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----' }, /JWT_PUBLIC_KEY: set only one/],
    ['a short secret', { JWT_SECRET: 'short' }, /JWT_SECRET: must be at least 16 characters/],
    ['a bad PORT', { JWT_SECRET: SECRET, PORT: 'eighty' }, /PORT:/],
    ['a bad REDIS_URL', { JWT_SECRET: SECRET, REDIS_URL: 'localhost:6379' }, /REDIS_URL: must be a redis:\/\//],
    ['a bad MAX_PAYLOAD_BYTES', { JWT_SECRET: SECRET, MAX_PAYLOAD_BYTES: '-1' }, /MAX_PAYLOAD_BYTES:/],
    ['a bad LOG_LEVEL', { JWT_SECRET: SECRET, LOG_LEVEL: 'loud' }, /LOG_LEVEL:/],
    ['the dev token endpoint with a real secret', { JWT_SECRET: SECRET, DEV_TOKEN_ENDPOINT: 'true' }, /DEV_TOKEN_ENDPOINT: only with the development secret/],
    ['the dev token endpoint with a public key', { JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----', DEV_TOKEN_ENDPOINT: 'true' }, /DEV_TOKEN_ENDPOINT: only with/],
  ];
  for (const [name, env, message] of bad) {
    it(`fails fast on ${name}, naming the variable`, () => {
      assert.throws(
        () => loadConfig(env),
        (error: unknown) => error instanceof ConfigError && message.test(error.message),
      );
    });
  }

  it('enables the dev token endpoint only when asked, and only with the development secret', () => {
    assert.equal(loadConfig({ JWT_SECRET: SECRET }).devTokenEndpoint, false);
    assert.equal(loadConfig({ JWT_SECRET: DEVELOPMENT_JWT_SECRET }).devTokenEndpoint, false);
    assert.equal(loadConfig({ JWT_SECRET: DEVELOPMENT_JWT_SECRET, DEV_TOKEN_ENDPOINT: 'true' }).devTokenEndpoint, true);
  });

  it('splits CORS_ORIGINS', () => {
    assert.deepEqual(loadConfig({ JWT_SECRET: SECRET, CORS_ORIGINS: 'https://a.example, https://b.example' }).corsOrigins, ['https://a.example', 'https://b.example']);
  });
});
