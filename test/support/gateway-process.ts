import { ManagedProcess } from './child-process.js';
import { fetchHealth, isGatewayReady } from './gateway-health.js';
import { GATEWAY_MAIN, REPO_ROOT } from './paths.js';
import { freePort } from './ports.js';
import { TEST_JWT_SECRET } from './tokens.js';
import { present, waitUntil } from './wait.js';

export interface GatewayOptions {
  redisUrl: string;
  env?: Record<string, string>;
  instanceId?: string;
  /** A given port (to start a gateway again where it was); a free one otherwise. */
  port?: number;
}

/** One real gateway process (`node dist/apps/gateway/src/main.js`) on a free port. */
export class GatewayProcess {
  private constructor(
    readonly process: ManagedProcess,
    readonly port: number,
    readonly instanceId: string,
  ) {}

  /**
   * A free port is free when it is picked, not necessarily when the gateway binds it: another process (a parallel test
   * file, a container's published port) may take it in between. A start that fails on EADDRINUSE is tried again on
   * another free port (not when the port was given).
   */
  static async start(options: GatewayOptions): Promise<GatewayProcess> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await GatewayProcess.startOn(options.port ?? (await freePort()), options);
      } catch (error) {
        if (options.port !== undefined || attempt >= 3 || !String(error).includes('EADDRINUSE')) throw error;
      }
    }
  }

  private static async startOn(port: number, options: GatewayOptions): Promise<GatewayProcess> {
    const instanceId = options.instanceId ?? `gw-${port}`;
    const child = new ManagedProcess(instanceId, process.execPath, [GATEWAY_MAIN], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env['PATH'] ?? '',
        PORT: String(port),
        HOST: '127.0.0.1',
        REDIS_URL: options.redisUrl,
        JWT_SECRET: TEST_JWT_SECRET,
        INSTANCE_ID: instanceId,
        LOG_LEVEL: 'debug',
        ...options.env,
      },
    });
    const gateway = new GatewayProcess(child, port, instanceId);
    try {
      await gateway.waitReady();
    } catch (error) {
      // A gateway that never got ready must not outlive the failed start (it would keep the test process alive).
      await child.stop();
      throw error;
    }
    return gateway;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async health(kind: 'live' | 'ready'): Promise<{ status: number; body: unknown }> {
    return fetchHealth(this.url, kind);
  }

  async isReady(): Promise<boolean> {
    return isGatewayReady(this.url);
  }

  async waitReady(timeoutMs = 20_000): Promise<void> {
    await waitUntil(
      async () => {
        if (!this.process.running) throw new Error(`gateway ${this.instanceId} exited:\n${this.process.tail()}`);
        return this.isReady();
      },
      `gateway ${this.instanceId} to be ready`,
      timeoutMs,
      100,
    );
  }

  /** Parsed JSON log records (pino), for assertions on what the gateway said. */
  logs(): Array<Record<string, unknown>> {
    return this.process.lines.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
  }

  logsWith(message: string): Array<Record<string, unknown>> {
    return this.logs().filter((record) => record['msg'] === message);
  }

  /** The `connected` log record of a socket this instance accepted (needs LOG_LEVEL debug, the default here). */
  connectionRecord(socketId: string): Record<string, unknown> | undefined {
    return this.logsWith('connected').find((record) => record['socketId'] === socketId);
  }

  async stop(): Promise<void> {
    await this.process.stop();
  }
}

export class GatewayCluster {
  private constructor(readonly instances: GatewayProcess[]) {}

  static async start(count: number, options: GatewayOptions): Promise<GatewayCluster> {
    return new GatewayCluster(await Promise.all(Array.from({ length: count }, () => GatewayProcess.start(options))));
  }

  /** The i-th instance, round robin: tests spread devices over instances with it. */
  at(index: number): GatewayProcess {
    return this.instances[index % this.instances.length];
  }

  /** The instance that accepted the socket with this id (from its `connected` log line). */
  async instanceOf(socketId: string, timeoutMs = 10_000): Promise<GatewayProcess> {
    let found: GatewayProcess | undefined;
    await waitUntil(
      () => {
        found = this.instances.find((instance) => instance.connectionRecord(socketId) !== undefined);
        return found !== undefined;
      },
      `the instance of socket ${socketId}`,
      timeoutMs,
    );
    return present(found, `the instance of socket ${socketId}`);
  }

  async stop(): Promise<void> {
    await Promise.all(this.instances.map((instance) => instance.stop()));
  }
}
