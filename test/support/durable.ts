import { HeraldPublisher } from '@herald/publisher';
import { ResumingDevice, type ResumingDeviceOptions } from './clients.js';
import { HeraldRedis } from './herald-redis.js';
import { startTopology, type Topology, type TopologyOptions } from './topology/index.js';
import { cleanUp } from './wait.js';

/** What every durable scenario starts with: a running Herald, the SDK publishing to it, a probe of its Redis. */
export interface DurableSetup {
  topology: Topology;
  sdk: HeraldPublisher;
  redis: HeraldRedis;
}

export async function startDurable(options: TopologyOptions): Promise<DurableSetup> {
  const topology = await startTopology(options);
  const sdk = new HeraldPublisher({ redisUrl: topology.redis.url });
  try {
    await sdk.connect();
    return { topology, sdk, redis: await HeraldRedis.connect(topology.redis.url) };
  } catch (error) {
    await cleanUp(sdk, topology).catch(() => undefined);
    throw error;
  }
}

/**
 * A connect function for a scenario: a resuming device of `user` on the instance at `instance` (round robin), with an
 * optional first `since`; every device is added to `devices`, which the scenario's after() cleans up.
 */
export function deviceConnector(
  topology: () => Topology,
  devices: ResumingDevice[],
): (user: string, instance: number, since?: string, options?: ResumingDeviceOptions) => Promise<ResumingDevice> {
  return async (user, instance, since, options = {}) => {
    const device = await ResumingDevice.connect(topology().at(instance).url, user, since === undefined ? options : { ...options, since });
    devices.push(device);
    return device;
  };
}
