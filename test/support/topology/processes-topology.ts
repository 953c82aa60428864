import { GatewayProcess, type GatewayOptions } from '../gateway-process.js';
import { NginxProcess, type NginxAccessRecord } from '../nginx-process.js';
import { RedisServer } from '../redis-server.js';
import { BaseTopology, initialGatewaySpecs, parseLogLines, settleAll } from './base-topology.js';
import type { ExitStatus, GatewayHandle, GatewaySpec, LogRecord, NginxHandle, RedisHandle, TopologyOptions } from './topology.js';

/**
 * A gateway process (`node dist/apps/gateway/src/main.js`) seen through the topology interface. restart() and
 * launch() replace the process with a new one on the same port, instance id and environment; the handle stays.
 */
class ProcessGateway implements GatewayHandle {
  /** Output of earlier incarnations, oldest first, so logs() covers the handle's whole life. */
  private readonly earlierLines: string[] = [];

  constructor(
    private gateway: GatewayProcess,
    private readonly options: GatewayOptions,
  ) {}

  get instanceId(): string {
    return this.gateway.instanceId;
  }

  get url(): string {
    return this.gateway.url;
  }

  health(kind: 'live' | 'ready'): Promise<{ status: number; body: unknown }> {
    return this.gateway.health(kind);
  }

  isReady(): Promise<boolean> {
    return this.gateway.isReady();
  }

  waitReady(timeoutMs?: number): Promise<void> {
    return this.gateway.waitReady(timeoutMs);
  }

  async logs(): Promise<LogRecord[]> {
    return parseLogLines([...this.earlierLines, ...this.gateway.process.lines]);
  }

  async logsWith(message: string): Promise<LogRecord[]> {
    return (await this.logs()).filter((record) => record['msg'] === message);
  }

  async connectionRecord(socketId: string): Promise<LogRecord | undefined> {
    return (await this.logsWith('connected')).find((record) => record['socketId'] === socketId);
  }

  async isRunning(): Promise<boolean> {
    return this.gateway.process.running;
  }

  async incarnation(): Promise<string> {
    return `pid ${String(this.gateway.process.pid)}`;
  }

  async signal(signal: NodeJS.Signals): Promise<void> {
    this.gateway.process.signal(signal);
  }

  exited(): Promise<ExitStatus> {
    return this.gateway.process.exited;
  }

  async kill(): Promise<void> {
    this.gateway.process.signal('SIGKILL');
    await this.gateway.process.exited;
  }

  async restart(): Promise<void> {
    this.gateway.process.signal('SIGTERM');
    const status = await this.gateway.process.exited;
    if (status.code !== 0) throw new Error(`gateway ${this.instanceId} exited with ${JSON.stringify(status)} on SIGTERM:\n${this.gateway.process.tail()}`);
    await this.launch();
  }

  async launch(): Promise<void> {
    if (this.gateway.process.running) throw new Error(`gateway ${this.instanceId} is still running: kill() or restart() it`);
    this.earlierLines.push(...this.gateway.process.lines);
    this.gateway = await GatewayProcess.start({ ...this.options, port: this.gateway.port, instanceId: this.gateway.instanceId });
  }

  stop(): Promise<void> {
    return this.gateway.stop();
  }
}

class ProcessNginx implements NginxHandle {
  readonly addressSeenByGateways = '127.0.0.1';

  constructor(private readonly nginx: NginxProcess) {}

  get url(): string {
    return this.nginx.url;
  }

  get port(): number {
    return this.nginx.port;
  }

  async accessLog(): Promise<NginxAccessRecord[]> {
    return this.nginx.accessLog();
  }

  async errors(): Promise<string[]> {
    return this.nginx.errors();
  }

  stop(): Promise<void> {
    return this.nginx.stop();
  }
}

/** Local processes: a private redis-server, gateway processes and nginx, all on free loopback ports. */
export class ProcessesTopology extends BaseTopology {
  readonly kind = 'processes';
  private nginxProcess: ProcessNginx | undefined;

  private constructor(
    private readonly redisServer: RedisServer,
    private readonly gatewayEnv: Record<string, string>,
  ) {
    super();
  }

  get redis(): RedisHandle {
    return this.redisServer;
  }

  static async start(options: TopologyOptions = {}): Promise<ProcessesTopology> {
    const topology = new ProcessesTopology(await RedisServer.start(), options.gatewayEnv ?? {});
    try {
      const initial = await Promise.allSettled(initialGatewaySpecs(options).map((spec) => topology.startGateway(spec)));
      for (const result of initial) if (result.status === 'fulfilled') topology.started.push(result.value);
      const failed = initial.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      if (options.nginx) {
        topology.nginxProcess = new ProcessNginx(await NginxProcess.start(topology.started.map((gateway) => Number(new URL(gateway.url).port))));
        topology.nginx = topology.nginxProcess;
      }
      return topology;
    } catch (error) {
      // Whatever did start must not outlive the failed setup (it would keep the test process alive).
      await topology.stop().catch(() => undefined);
      throw error;
    }
  }

  async addGateway(spec: GatewaySpec = {}): Promise<GatewayHandle> {
    const gateway = await this.startGateway(spec);
    this.started.push(gateway);
    return gateway;
  }

  private async startGateway(spec: GatewaySpec): Promise<ProcessGateway> {
    const options: GatewayOptions = {
      redisUrl: this.redisServer.url,
      env: { ...this.gatewayEnv, ...spec.env },
      ...(spec.instanceId === undefined ? {} : { instanceId: spec.instanceId }),
    };
    return new ProcessGateway(await GatewayProcess.start(options), options);
  }

  async stop(): Promise<void> {
    await settleAll('stopping the processes topology', [async () => this.nginxProcess?.stop(), ...this.started.map((gateway) => () => gateway.stop())]);
    await this.redisServer.stop();
  }
}
