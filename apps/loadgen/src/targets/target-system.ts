import { freePort, RedisServer } from '@herald/testing';
import { InstanceProcess } from '../processes/instance-process.js';
import { BASELINE_MAIN, GATEWAY_MAIN, LOCAL_MAIN, STREAMS_MAIN, gatewayMainOf } from '../paths.js';
import {
  BaselineEmitterPublisher,
  HeraldCommandPublisher,
  PubSubCommandPublisher,
  STREAMS_MAX_LEN,
  StreamsEmitterPublisher,
  redisServerPid,
  type NotificationPublisher,
} from '../publish/notification-publisher.js';
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
  /** Kills instance `index` like a crash (SIGKILL); absent for targets the harness did not start. */
  killInstance?(index: number): Promise<void>;
  /** Starts a killed instance again on the same port and waits until it is ready. */
  restartInstance?(index: number): Promise<void>;
  stop(): Promise<void>;
}

export interface LocalTargetOptions {
  instances: number;
  jwtSecret: string;
  nodeFlags: readonly string[];
  /** Per-instance extra flags (profiles need one file name per instance). */
  nodeFlagsFor?: (index: number) => string[];
  /** Extra environment for Herald's gateways (e.g. LOG_LEVEL), the previous one's too. */
  heraldEnv: Record<string, string>;
  /** A checkout of Herald before durable delivery, built: the `previous` system's gateway. */
  previousDir?: string;
  /** The previous gateway is a durable one: fed through the command stream. */
  previousStream?: boolean;
}

/** How each system's backend services publish (notification-publisher.ts). */
function createPublisher(system: SystemName, redisUrl: string, previousStream = false): Promise<NotificationPublisher> {
  if (system === 'previous' && previousStream) return HeraldCommandPublisher.connect(redisUrl);
  switch (system) {
    case 'herald':
    case 'herald-acks':
      return HeraldCommandPublisher.connect(redisUrl);
    case 'local':
    case 'previous':
      return PubSubCommandPublisher.connect(redisUrl);
    case 'streams':
      return StreamsEmitterPublisher.connect(redisUrl);
    case 'baseline':
      return BaselineEmitterPublisher.connect(redisUrl);
  }
}

/** The server each system runs, and its environment besides PORT, HOST, REDIS_URL and JWT_SECRET. */
function serverOf(system: SystemName, index: number, options: LocalTargetOptions): { entry: string; env: Record<string, string> } {
  // The gateway's production defaults (LOG_LEVEL info) unless the user overrides them.
  const gatewayEnv = { INSTANCE_ID: `bench-${index}`, ...options.heraldEnv };
  switch (system) {
    case 'herald':
    case 'herald-acks':
      return { entry: GATEWAY_MAIN, env: gatewayEnv };
    case 'previous':
      if (!options.previousDir) throw new Error('the previous system needs --previous-dir');
      return { entry: gatewayMainOf(options.previousDir), env: gatewayEnv };
    case 'local':
      return { entry: LOCAL_MAIN, env: {} };
    case 'streams':
      return { entry: STREAMS_MAIN, env: { STREAMS_MAX_LEN: String(STREAMS_MAX_LEN) } };
    case 'baseline':
      return { entry: BASELINE_MAIN, env: {} };
  }
}

/** Starts a private redis-server and N instances of the system on free loopback ports. */
export async function startLocalTarget(system: SystemName, options: LocalTargetOptions): Promise<TargetSystem> {
  const redis = await RedisServer.start();
  const processes: InstanceProcess[] = [];
  try {
    for (let index = 0; index < options.instances; index++) {
      const port = await freePort();
      const baseUrl = `http://127.0.0.1:${port}`;
      const common = { PORT: String(port), HOST: '127.0.0.1', REDIS_URL: redis.url, JWT_SECRET: options.jwtSecret };
      const server = serverOf(system, index, options);
      processes.push(
        InstanceProcess.start({
          name: `${system}-${index}`,
          entry: server.entry,
          env: { ...common, ...server.env },
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
  const instances: TargetInstance[] = processes.map((instance) => ({ url: instance.baseUrl, process: instance }));
  const processAt = (index: number): InstanceProcess => {
    const instance = instances[index]?.process;
    if (!instance) throw new Error(`${system} has no instance ${index}`);
    return instance;
  };
  return {
    system,
    redisUrl: redis.url,
    instances,
    redisPid,
    createPublisher: () => createPublisher(system, redis.url, options.previousStream),
    killInstance: (index) => processAt(index).kill(),
    restartInstance: async (index) => {
      const fresh = processAt(index).respawn();
      instances[index] = { url: fresh.baseUrl, process: fresh };
      await fresh.waitReady();
    },
    stop: async () => {
      await Promise.all(
        instances.map(async (instance) => {
          await instance.process?.stop();
        }),
      );
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
