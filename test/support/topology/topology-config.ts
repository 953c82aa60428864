import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { TEST_JWT_SECRET } from '../tokens.js';

/** Official images, as in docker-compose.yml; a machine without a registry sets the variables (scripts/docker-local.sh). */
export const DEFAULT_IMAGES = {
  REDIS_IMAGE: 'redis:7-alpine',
  NGINX_IMAGE: 'nginx:1.27-alpine',
  NODE_IMAGE: 'node:24-bookworm-slim',
  PROMETHEUS_IMAGE: 'prom/prometheus:v2.53.2',
  HERALD_GATEWAY_IMAGE: 'herald-gateway:test',
} as const;

/** How to get an engine and images, for every error that lacks one. */
export const DOCKER_HINT =
  'On Debian, as root: `bash scripts/docker-local.sh` installs and starts Docker and builds local base images without any registry ' +
  '(`npm run test:containers` reads the .tmp/docker-local.env it writes); elsewhere install Docker (docs/docker.md)';

/** The compose project of a run's compose test (the runner sweeps its containers by this name). */
export function composeProjectName(runId: string): string {
  return `herald-${runId}-compose`;
}

const TopologyEnv = z.object({
  HERALD_TOPOLOGY: z.enum(['processes', 'containers']).default('processes'),
  REDIS_IMAGE: z.string().min(1).default(DEFAULT_IMAGES.REDIS_IMAGE),
  NGINX_IMAGE: z.string().min(1).default(DEFAULT_IMAGES.NGINX_IMAGE),
  NODE_IMAGE: z.string().min(1).default(DEFAULT_IMAGES.NODE_IMAGE),
  PROMETHEUS_IMAGE: z.string().min(1).default(DEFAULT_IMAGES.PROMETHEUS_IMAGE),
  /** The gateway image built from the project's Dockerfile, once per run, by the containers suite runner. */
  HERALD_GATEWAY_IMAGE: z.string().min(1).default(DEFAULT_IMAGES.HERALD_GATEWAY_IMAGE),
  /** Labels every container and network of a run, so the runner can sweep what a crashed test left behind. */
  HERALD_TEST_RUN_ID: z
    .string()
    .regex(/^[a-z0-9-]{1,40}$/, 'lower-case letters, digits and dashes')
    .optional(),
});

export type TopologyConfig = z.infer<typeof TopologyEnv> & { HERALD_TEST_RUN_ID: string };

/** Container and network label naming the run that created them. */
export const RUN_LABEL = 'org.herald.test-run';

let cached: TopologyConfig | undefined;

/** The topology settings of this test process, from its environment; a bad value is an error that names it. */
export function topologyConfig(env: NodeJS.ProcessEnv = process.env): TopologyConfig {
  if (cached && env === process.env) return cached;
  const parsed = TopologyEnv.safeParse(Object.fromEntries(Object.entries(env).filter(([, value]) => value !== '')));
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`invalid test topology environment: ${problems} (HERALD_TOPOLOGY is processes or containers)`);
  }
  const config = { ...parsed.data, HERALD_TEST_RUN_ID: parsed.data.HERALD_TEST_RUN_ID ?? `local-${randomBytes(4).toString('hex')}` };
  if (env === process.env) cached = config;
  return config;
}

/** What the project's docker-compose.yml reads for a test run: this run's images and the test secret. */
export function composeStackEnv(config: TopologyConfig): Record<string, string> {
  return {
    HERALD_IMAGE: config.HERALD_GATEWAY_IMAGE,
    NODE_IMAGE: config.NODE_IMAGE,
    REDIS_IMAGE: config.REDIS_IMAGE,
    NGINX_IMAGE: config.NGINX_IMAGE,
    PROMETHEUS_IMAGE: config.PROMETHEUS_IMAGE,
    JWT_SECRET: TEST_JWT_SECRET,
  };
}
