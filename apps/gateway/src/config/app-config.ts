import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import proxyAddr from 'proxy-addr';
import { DEVELOPMENT_JWT_SECRET } from '@herald/contracts';
import { z } from 'zod';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const csv = z.string().transform((value) =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item.length > 0),
);

const EnvSchema = z
  .object({
    PORT: z.coerce.number().int().min(0).max(65535).default(3000),
    HOST: z.string().min(1).default('0.0.0.0'),
    REDIS_URL: z
      .string()
      .default('redis://127.0.0.1:6379')
      .refine((value) => /^rediss?:\/\//.test(value) && URL.canParse(value), { message: 'must be a redis:// or rediss:// URL' }),
    JWT_SECRET: z.string().min(16, 'must be at least 16 characters').optional(),
    JWT_PUBLIC_KEY: z.string().includes('BEGIN PUBLIC KEY', { message: 'must be a PEM public key (SPKI)' }).optional(),
    /** A JSON Web Key Set: tokens whose header names a `kid` are verified with that key (RS/PS/ES/EdDSA, alg pinned by the key). */
    JWT_JWKS_URL: z.string().refine(isJwksUrl, { message: 'must be an https:// URL (http:// only for a loopback host)' }).optional(),
    /** How long a fetched key set is used before it is fetched again: a key removed from the set is refused at most this late. */
    JWT_JWKS_CACHE_SECONDS: z.coerce.number().int().min(1).max(86_400).default(600),
    /** Least time between two fetches caused by unknown `kid`s: a flood of made-up kids cannot turn into a flood of fetches. */
    JWT_JWKS_COOLDOWN_SECONDS: z.coerce.number().int().min(0).max(3600).default(30),
    /** How long a fetch of the key set may take. */
    JWT_JWKS_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(5000),
    JWT_ISSUER: z.string().min(1).optional(),
    JWT_AUDIENCE: z.string().min(1).optional(),
    CORS_ORIGINS: csv.default([]),
    MAX_PAYLOAD_BYTES: z.coerce.number().int().positive().default(65536),
    INSTANCE_ID: z.string().min(1).max(100).optional(),
    LOG_LEVEL: z.enum(LOG_LEVELS).default('info'),
    /** Addresses (or CIDR ranges) of proxies whose X-Forwarded-For is trusted, passed to Express's `trust proxy`. */
    TRUSTED_PROXIES: csv.default(['loopback']).refine(isTrustList, {
      message: 'must be a comma-separated list of IP addresses, CIDR ranges or loopback/linklocal/uniquelocal',
    }),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().positive().default(10_000),
    /** Notifications kept per feed (a user's inbox, the broadcast feed); older ones are trimmed. */
    INBOX_MAX_LENGTH: z.coerce.number().int().min(1).max(1_000_000).default(1000),
    /** Notifications older than this are trimmed, and a feed nobody wrote to for this long expires. */
    INBOX_MAX_AGE_SECONDS: z.coerce
      .number()
      .int()
      .min(1)
      .max(10 * 365 * 86_400)
      .default(7 * 86_400),
    /**
     * How long the gateway gathers a user's delivery acknowledgements before writing the highest one to Redis (0: each
     * is written at once). The SDK acknowledges at most every 250 ms per device; one write per user per window is what
     * the delivered mark needs.
     */
    INBOX_ACK_COALESCE_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
    /** A command read but not acknowledged for this long (its instance died, or it failed) is taken over by another instance. */
    INGEST_CLAIM_IDLE_MS: z.coerce.number().int().min(100).default(30_000),
    /** After this many failed attempts a command goes to the dead-letter stream. */
    INGEST_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(1000).default(5),
    /** true: one instance at a time reads the command stream, so commands are stored in publish order. false: all read. */
    INGEST_ORDERED: z
      .enum(['true', 'false'])
      .default('true')
      .transform((value) => value === 'true'),
    /** How long the reading instance's lease lasts unrenewed: how soon another instance reads after it died. */
    INGEST_LEASE_MS: z.coerce.number().int().min(300).max(60_000).default(3000),
    /**
     * After a read that brought several commands (so more are coming), how long the reader waits before the next read,
     * letting them gather (0: read again at once). At most this much latency, only under load; fewer Redis round trips.
     */
    INGEST_READ_WAIT_MS: z.coerce.number().int().min(0).max(100).default(1),
    /** How often the instance sends a probe through its own route subscriber (readiness proves the delivery path). */
    ROUTE_CANARY_INTERVAL_MS: z.coerce.number().int().min(50).max(60_000).default(2000),
    /** How long a probe may take to come back before it counts as missed (and the instance is not ready). */
    ROUTE_CANARY_TIMEOUT_MS: z.coerce.number().int().min(10).max(60_000).default(1000),
    /** After this many probes in a row missed while connected, the route subscriber connection is dropped and reopened. */
    ROUTE_CANARY_MAX_MISSES: z.coerce.number().int().min(1).max(1000).default(3),
    /** Bytes queued for one socket (engine.io's queue + the WebSocket's buffer) beyond which it is ended as a slow consumer. */
    MAX_SOCKET_BUFFER_BYTES: z.coerce.number().int().min(16_384).default(1_048_576),
    /** Sockets one user may have open over all instances; the next handshake is refused with too_many_connections. */
    MAX_CONNECTIONS_PER_USER: z.coerce.number().int().min(1).max(100_000).default(20),
    /** How long a socket counts against its user's limit without being renewed: how soon a crashed instance's sockets stop counting. */
    CONNECTION_LEASE_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
    /** Sockets this instance holds at most; the next handshake is refused with instance_full (it lands elsewhere on retry). */
    MAX_CONNECTIONS_PER_INSTANCE: z.coerce.number().int().min(1).default(50_000),
    /** engine.io's maxHttpBufferSize: the largest packet (or polling body) a client may send; larger ones close the connection. */
    MAX_CLIENT_PACKET_BYTES: z.coerce.number().int().min(1024).max(1_048_576).default(16_384),
    /** Client packets (events) per second a socket may send on average, and in a burst; beyond it the session ends. */
    CLIENT_PACKETS_PER_SECOND: z.coerce.number().min(0.1).max(10_000).default(20),
    CLIENT_PACKET_BURST: z.coerce.number().int().min(1).max(100_000).default(40),
    /** true: POST /dev/token signs a token for any user (the demo page's sign-in). Only with the development secret. */
    DEV_TOKEN_ENDPOINT: z
      .enum(['true', 'false'])
      .default('false')
      .transform((value) => value === 'true'),
  })
  .superRefine((env, ctx) => {
    if (!env.JWT_SECRET && !env.JWT_PUBLIC_KEY && !env.JWT_JWKS_URL) {
      ctx.addIssue({ code: 'custom', path: ['JWT_SECRET'], message: 'set JWT_SECRET (HS256), JWT_PUBLIC_KEY (RS256/ES256) or JWT_JWKS_URL' });
    }
    if (env.MAX_SOCKET_BUFFER_BYTES < 2 * env.MAX_PAYLOAD_BYTES) {
      // Otherwise one large notification behind another could end a socket that reads as fast as it can.
      ctx.addIssue({ code: 'custom', path: ['MAX_SOCKET_BUFFER_BYTES'], message: 'must be at least twice MAX_PAYLOAD_BYTES' });
    }
    if (env.JWT_SECRET && env.JWT_PUBLIC_KEY) {
      ctx.addIssue({ code: 'custom', path: ['JWT_PUBLIC_KEY'], message: 'set only one of JWT_SECRET and JWT_PUBLIC_KEY' });
    }
    // It hands out tokens for any user: harmless only where every token is forgeable anyway (the public development secret).
    if (env.DEV_TOKEN_ENDPOINT && env.JWT_SECRET !== DEVELOPMENT_JWT_SECRET) {
      ctx.addIssue({ code: 'custom', path: ['DEV_TOKEN_ENDPOINT'], message: 'only with the development secret of npm start (JWT_SECRET), never with a real key' });
    }
  });

export interface RedisConnection {
  url: string;
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls: boolean;
}

export type JwtKeyConfig = { kind: 'secret'; secret: string } | { kind: 'public-key'; pem: string };

export interface JwksConfig {
  url: string;
  cacheMaxAgeMs: number;
  cooldownMs: number;
  timeoutMs: number;
}

/** The whole configuration, validated once at boot. Injected by class token; nothing else reads process.env. */
export class AppConfig {
  readonly port: number;
  readonly host: string;
  readonly redis: RedisConnection;
  /** `key`: the static key (tokens without `kid`); `jwks`: the key set (tokens with one). At least one is set. */
  readonly jwt: { key?: JwtKeyConfig; jwks?: JwksConfig; issuer?: string; audience?: string };
  readonly corsOrigins: string[];
  readonly maxPayloadBytes: number;
  readonly instanceId: string;
  readonly logLevel: (typeof LOG_LEVELS)[number];
  readonly trustedProxies: string[];
  readonly shutdownTimeoutMs: number;
  /**
   * At shutdown, how long connections still open after the sessions ended get to close by themselves before they are
   * cut: a WebSocket close handshake or an HTTP response takes a round trip; a quarter of the limit leaves the rest.
   */
  readonly connectionCloseGraceMs: number;
  /** Retention of every feed. The meta (epoch, head) outlives the log 4×, so a device that saw everything still resumes after a long idle. */
  readonly inbox: { maxLength: number; maxAgeMs: number; metaTtlMs: number; ackCoalesceMs: number };
  readonly ingest: { claimIdleMs: number; maxAttempts: number; ordered: boolean; leaseMs: number; readWaitMs: number };
  readonly canary: { intervalMs: number; timeoutMs: number; maxMisses: number };
  readonly limits: {
    maxSocketBufferBytes: number;
    maxConnectionsPerUser: number;
    connectionLeaseMs: number;
    maxConnectionsPerInstance: number;
    maxClientPacketBytes: number;
    clientPacketsPerSecond: number;
    clientPacketBurst: number;
  };
  /** POST /dev/token exists (the development secret only: validated above). */
  readonly devTokenEndpoint: boolean;

  constructor(env: z.infer<typeof EnvSchema>) {
    this.port = env.PORT;
    this.host = env.HOST;
    this.redis = parseRedisUrl(env.REDIS_URL);
    this.jwt = {
      key: env.JWT_SECRET ? { kind: 'secret', secret: env.JWT_SECRET } : env.JWT_PUBLIC_KEY ? { kind: 'public-key', pem: env.JWT_PUBLIC_KEY } : undefined,
      jwks: env.JWT_JWKS_URL
        ? {
            url: env.JWT_JWKS_URL,
            cacheMaxAgeMs: env.JWT_JWKS_CACHE_SECONDS * 1000,
            cooldownMs: env.JWT_JWKS_COOLDOWN_SECONDS * 1000,
            timeoutMs: env.JWT_JWKS_TIMEOUT_MS,
          }
        : undefined,
      issuer: env.JWT_ISSUER,
      audience: env.JWT_AUDIENCE,
    };
    this.corsOrigins = env.CORS_ORIGINS;
    this.maxPayloadBytes = env.MAX_PAYLOAD_BYTES;
    this.instanceId = env.INSTANCE_ID ?? `${hostname()}-${randomUUID().slice(0, 8)}`;
    this.logLevel = env.LOG_LEVEL;
    this.trustedProxies = env.TRUSTED_PROXIES;
    this.shutdownTimeoutMs = env.SHUTDOWN_TIMEOUT_MS;
    this.connectionCloseGraceMs = Math.min(1000, Math.floor(env.SHUTDOWN_TIMEOUT_MS / 4));
    const maxAgeMs = env.INBOX_MAX_AGE_SECONDS * 1000;
    this.inbox = { maxLength: env.INBOX_MAX_LENGTH, maxAgeMs, metaTtlMs: 4 * maxAgeMs, ackCoalesceMs: env.INBOX_ACK_COALESCE_MS };
    this.devTokenEndpoint = env.DEV_TOKEN_ENDPOINT;
    this.ingest = {
      claimIdleMs: env.INGEST_CLAIM_IDLE_MS,
      maxAttempts: env.INGEST_MAX_ATTEMPTS,
      ordered: env.INGEST_ORDERED,
      leaseMs: env.INGEST_LEASE_MS,
      readWaitMs: env.INGEST_READ_WAIT_MS,
    };
    this.canary = { intervalMs: env.ROUTE_CANARY_INTERVAL_MS, timeoutMs: env.ROUTE_CANARY_TIMEOUT_MS, maxMisses: env.ROUTE_CANARY_MAX_MISSES };
    this.limits = {
      maxSocketBufferBytes: env.MAX_SOCKET_BUFFER_BYTES,
      maxConnectionsPerUser: env.MAX_CONNECTIONS_PER_USER,
      connectionLeaseMs: env.CONNECTION_LEASE_MS,
      maxConnectionsPerInstance: env.MAX_CONNECTIONS_PER_INSTANCE,
      maxClientPacketBytes: env.MAX_CLIENT_PACKET_BYTES,
      clientPacketsPerSecond: env.CLIENT_PACKETS_PER_SECOND,
      clientPacketBurst: env.CLIENT_PACKET_BURST,
    };
  }
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Reads and validates the environment. Throws a ConfigError naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv): AppConfig {
  const result = EnvSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
  }
  return new AppConfig(result.data);
}

/** Keys fetched over plain HTTP could be swapped on the way: only a loopback server (a sidecar, a test) may use it. */
function isJwksUrl(value: string): boolean {
  if (!URL.canParse(value)) return false;
  const url = new URL(value);
  if (url.protocol === 'https:') return true;
  return url.protocol === 'http:' && (url.hostname === 'localhost' || url.hostname === '[::1]' || /^127\./.test(url.hostname));
}

function isTrustList(entries: string[]): boolean {
  try {
    proxyAddr.compile(entries);
    return true;
  } catch {
    return false;
  }
}

function parseRedisUrl(url: string): RedisConnection {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : 0;
  return {
    url,
    host: parsed.hostname.replace(/^\[|\]$/g, ''),
    port: parsed.port ? Number(parsed.port) : 6379,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    db: Number.isInteger(db) ? db : 0,
    tls: parsed.protocol === 'rediss:',
  };
}
