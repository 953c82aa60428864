import { present, waitUntil } from '../wait.js';
import type { GatewayHandle, GatewaySpec, LogRecord, NginxHandle, RedisHandle, Topology, TopologyKind, TopologyOptions } from './topology.js';

/** What both providers share: gateway bookkeeping, round robin, finding a socket's instance. */
export abstract class BaseTopology implements Topology {
  abstract readonly kind: TopologyKind;
  abstract readonly redis: RedisHandle;
  protected readonly started: GatewayHandle[] = [];
  nginx: NginxHandle | undefined;

  get gateways(): readonly GatewayHandle[] {
    return this.started;
  }

  abstract addGateway(spec?: GatewaySpec): Promise<GatewayHandle>;
  abstract stop(): Promise<void>;

  at(index: number): GatewayHandle {
    if (this.started.length === 0) throw new Error('the topology has no gateway');
    return this.started[index % this.started.length];
  }

  restartGateway(index: number): Promise<void> {
    return this.at(index).restart();
  }

  killGateway(index: number): Promise<void> {
    return this.at(index).kill();
  }

  launchGateway(index: number): Promise<void> {
    return this.at(index).launch();
  }

  async instanceOf(socketId: string, timeoutMs = 10_000): Promise<GatewayHandle> {
    let found: GatewayHandle | undefined;
    await waitUntil(
      async () => {
        for (const gateway of this.started) {
          if ((await gateway.connectionRecord(socketId)) !== undefined) {
            found = gateway;
            return true;
          }
        }
        return false;
      },
      `the instance of socket ${socketId}`,
      timeoutMs,
      this.kind === 'containers' ? 100 : 25,
    );
    return present(found, `the instance of socket ${socketId}`);
  }
}

/** JSON log records among output lines (pino writes one object per line; anything else is skipped). */
export function parseLogLines(lines: readonly string[]): LogRecord[] {
  return lines.flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as LogRecord];
    } catch {
      return [];
    }
  });
}

/** Runs every cleanup even when some fail, then reports the failures together. */
export async function settleAll(what: string, cleanups: ReadonlyArray<() => Promise<unknown>>): Promise<void> {
  const results = await Promise.allSettled(cleanups.map((cleanup) => cleanup()));
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [String(result.reason)] : []));
  if (failures.length > 0) throw new Error(`${what}: ${failures.join('; ')}`);
}

/** The initial gateways of a topology, one spec each. */
export function initialGatewaySpecs(options: TopologyOptions): GatewaySpec[] {
  const gateways = options.gateways ?? 1;
  return typeof gateways === 'number' ? Array.from({ length: gateways }, () => ({})) : [...gateways];
}
