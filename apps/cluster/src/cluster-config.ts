import { resolve } from 'node:path';
import { REPO_ROOT } from '@herald/edge-config';
import { z } from 'zod';

const port = z.coerce.number().int().min(1).max(65535);
const ports = z
  .string()
  .transform((value) =>
    value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item.length > 0)
      .map(Number),
  )
  .pipe(z.array(z.number().int().min(1).max(65535)).min(1, 'at least one port'));

const EnvSchema = z.object({
  /** One gateway per port; the default matches the compose stack's published ports. */
  HERALD_GATEWAY_PORTS: ports.default([3001, 3002, 3003]),
  HERALD_NGINX_PORT: port.default(8080),
  HERALD_PROMETHEUS_PORT: port.default(9090),
  /** Port of the cluster's own redis-server; a free one when unset. Ignored with REDIS_URL. */
  HERALD_REDIS_PORT: port.optional(),
  /** Data folder (append-only file) of the cluster's own redis-server, kept across runs. Ignored with REDIS_URL. */
  HERALD_REDIS_DIR: z.string().min(1).optional(),
  /** Use this Redis instead of starting one. */
  REDIS_URL: z
    .string()
    .refine((value) => /^rediss?:\/\//.test(value) && URL.canParse(value), { message: 'must be a redis:// or rediss:// URL' })
    .optional(),
  /** Set to 0 to run without Prometheus even when it is installed. */
  HERALD_PROMETHEUS: z.enum(['0', '1']).default('1'),
  JWT_SECRET: z.string().optional(),
  JWT_PUBLIC_KEY: z.string().optional(),
});

export { DEVELOPMENT_JWT_SECRET } from '@herald/contracts';

/** Where `npm start`'s own redis-server keeps its data unless HERALD_REDIS_DIR says otherwise (.tmp/ is git-ignored). */
export const DEFAULT_REDIS_DIR = resolve(REPO_ROOT, '.tmp/cluster/redis');

/** What `npm start` runs, from the environment (every port configurable, so tests can use free ones). */
export class ClusterConfig {
  readonly gatewayPorts: number[];
  readonly nginxPort: number;
  readonly prometheusPort: number;
  readonly redisPort?: number;
  readonly redisUrl?: string;
  /** Absolute data folder of the cluster's own redis-server (unused with REDIS_URL). */
  readonly redisDir: string;
  readonly prometheus: boolean;
  /** Set when no JWT_SECRET / JWT_PUBLIC_KEY was given: the gateways get the development secret. */
  readonly developmentSecret: boolean;

  constructor(env: z.infer<typeof EnvSchema>) {
    this.gatewayPorts = env.HERALD_GATEWAY_PORTS;
    this.nginxPort = env.HERALD_NGINX_PORT;
    this.prometheusPort = env.HERALD_PROMETHEUS_PORT;
    this.redisPort = env.HERALD_REDIS_PORT;
    this.redisUrl = env.REDIS_URL;
    this.redisDir = resolve(env.HERALD_REDIS_DIR ?? DEFAULT_REDIS_DIR);
    this.prometheus = env.HERALD_PROMETHEUS === '1';
    this.developmentSecret = !env.JWT_SECRET && !env.JWT_PUBLIC_KEY;
  }
}

export function loadClusterConfig(env: NodeJS.ProcessEnv): ClusterConfig {
  const result = EnvSchema.safeParse(env);
  if (!result.success) {
    throw new Error(`Invalid configuration: ${result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ')}`);
  }
  const config = new ClusterConfig(result.data);
  const all = [...config.gatewayPorts, config.nginxPort, ...(config.prometheus ? [config.prometheusPort] : []), ...(config.redisPort ? [config.redisPort] : [])];
  if (new Set(all).size !== all.length) throw new Error(`Invalid configuration: ports must differ (${all.join(', ')})`);
  return config;
}
