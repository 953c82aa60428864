import { freePort, RedisServer } from '@herald/testing';
import { InstanceProcess } from '../processes/instance-process.js';
import { BASELINE_MAIN, GATEWAY_MAIN } from '../paths.js';
import { BaselineEmitterPublisher, HeraldCommandPublisher, redisServerPid, type NotificationPublisher } from '../publish/notification-publisher.js';
import type { SystemName } from '../runner/sweep-planner.js';

export interface TargetInstance {
  url: string;
  /** Present when the harness started the instance itself: then it can be measured from inside and from /proc. */
  process?: InstanceProcess;
}

/** One system under test: its instances and the Redis its publishers and instances share. */
export interface TargetSystem {
  readonly system: SystemName;
  readonly redisUrl: string;
  readonly instances: readonly TargetInstance[];
  /** Known when Redis runs on this machine. */
  readonly redisPid?: number;
  createPublisher(): Promise<NotificationPublisher>;
  stop(): Promise<void>;
}

export interface LocalTargetOptions {
  instances: number;
  jwtSecret: string;
  nodeFlags: readonly string[];
  /** Per-instance extra flags (profiles need one file name per instance). */
  nodeFlagsFor?: (index: number) => string[];
  /** Extra environment for Herald's gateways (e.g. LOG_LEVEL). */
  heraldEnv: Record<string, string>;
}

const createPublisher = (system: SystemName, redisUrl: string): Promise<NotificationPublisher> =>
  system === 'herald' ? HeraldCommandPublisher.connect(redisUrl) : BaselineEmitterPublisher.connect(redisUrl);

/** Starts a private redis-server and N instances of the system on free loopback ports. */
export async function startLocalTarget(system: SystemName, options: LocalTargetOptions): Promise<TargetSystem> {
  const redis = await RedisServer.start();
  const processes: InstanceProcess[] = [];
  try {
    for (let index = 0; index < options.instances; index++) {
      const port = await freePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const common = { PORT: String(port), HOST: '127.0.0.1', REDIS_URL: redis.url, JWT_SECRET: options.jwtSecret };
      processes.push(
        InstanceProcess.start({
          name: `${system}-${index}`,
          entry: system === 'herald' ? GATEWAY_MAIN : BASELINE_MAIN,
          // The gateway's production defaults (LOG_LEVEL info) unless the user overrides them.
          env: system === 'herald' ? { ...common, INSTANCE_ID: `bench-${index}`, ...options.heraldEnv } : common,
          nodeFlags: [...options.nodeFlags, ...(options.nodeFlagsFor?.(index) ?? [])],
          baseUrl,
        }),
      );
    }
    await Promise.all(processes.map((instance) => instance.waitReady()));
  } catch (error) {
    await Promise.all(processes.map((instance) => instance.stop()));
    await redis.stop();
    throw error;
  }
  const redisPid = await redisServerPid(redis.url);
  return {
    system,
    redisUrl: redis.url,
    instances: processes.map((instance) => ({ url: instance.baseUrl, process: instance })),
    redisPid,
    createPublisher: () => createPublisher(system, redis.url),
    stop: async () => {
      await Promise.all(processes.map((instance) => instance.stop()));
      await redis.stop();
    },
  };
}

/** Instances someone else runs: only client-side figures (delivery, latency) can be measured. */
export async function remoteTarget(system: SystemName, urls: readonly string[], redisUrl: string): Promise<TargetSystem> {
  const local = new URL(redisUrl).hostname;
  const redisPid = local === '127.0.0.1' || local === 'localhost' ? await redisServerPid(redisUrl).catch(() => undefined) : undefined;
  return {
    system,
    redisUrl,
    instances: urls.map((url) => ({ url })),
    redisPid,
    createPublisher: () => createPublisher(system, redisUrl),
    stop: () => Promise.resolve(),
  };
}
