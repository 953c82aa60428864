import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import { COMPOSE_GATEWAYS, COMPOSE_NGINX_PORT } from '@herald/edge-config';
import {
  ComposeStack,
  MetricsSnapshot,
  ProcessesTopology,
  REPO_ROOT,
  composeProjectName,
  composeStackEnv,
  fromAddress,
  isGatewayReady,
  present,
  topologyConfig,
  waitUntil,
  type ClientOptions,
  type LogRecord,
  type NginxAccessRecord,
} from '@herald/testing';

const run = promisify(execFile);

/** A gateway log record at error level or above (pino: 50 error, 60 fatal), with the instance that wrote it. */
export interface GatewayErrorRecord {
  instance: string;
  level: number;
  time: number;
  msg: string;
  record: LogRecord;
}

/**
 * What a fault acts on and what the suite observes, the same for local processes and for the compose stack: nginx in
 * front of 3 gateways, one Redis. Every fault method returns once the fault is over (the instance is back and ready).
 */
export interface ChaosTarget {
  readonly name: 'processes' | 'compose';
  /** nginx, where devices connect. */
  readonly url: string;
  readonly redisUrl: string;
  readonly gatewayNames: readonly string[];
  /** Socket options of the n-th device (processes: one loopback source address per few devices, so nginx spreads them). */
  deviceSocket(n: number): ClientOptions;
  connectedSockets(index: number): Promise<number>;
  isReady(index: number): Promise<boolean>;
  /** Graceful restart (SIGTERM: drain), back when ready. */
  restartGateway(index: number): Promise<void>;
  /** SIGKILL of the gateway's Node process, like a crash; back (restarted by its supervisor) when ready. */
  crashGateway(index: number): Promise<void>;
  /** A new build of the gateway in place of the running one (compose: `docker compose up -d`; new address). */
  readonly redeploy: ((index: number) => Promise<void>) | undefined;
  /** Graceful Redis restart (AOF kept). */
  restartRedis(): Promise<void>;
  /** Error-level records of every gateway so far (every incarnation). */
  gatewayErrors(): Promise<GatewayErrorRecord[]>;
  /** nginx's warnings and errors so far, in order. */
  nginxErrors(): Promise<string[]>;
  /** nginx's access log so far, in order. */
  nginxAccess(): Promise<NginxAccessRecord[]>;
  stop(): Promise<void>;
}

function errorRecords(instance: string, records: readonly LogRecord[]): GatewayErrorRecord[] {
  return records.flatMap((record) => {
    const level = Number(record['level']);
    if (!(level >= 50)) return [];
    return [{ instance, level, time: Number(record['time']), msg: typeof record['msg'] === 'string' ? record['msg'] : '', record }];
  });
}

/** Loopback source addresses the process devices connect from: nginx hashes on the client address. */
const SOURCE_ADDRESSES = 60;

/** 3 gateway processes, nginx (`upstream` block, fixed addresses) and redis-server, on loopback. */
export class ProcessesChaosTarget implements ChaosTarget {
  readonly name = 'processes';
  readonly redeploy = undefined;
  private readonly agents = new Map<number, ClientOptions>();

  private constructor(private readonly topology: ProcessesTopology) {}

  static async start(gatewayEnv: Record<string, string>): Promise<ProcessesChaosTarget> {
    return new ProcessesChaosTarget(await ProcessesTopology.start({ gateways: 3, nginx: true, gatewayEnv }));
  }

  get url(): string {
    return present(this.topology.nginx, 'nginx').url;
  }

  get redisUrl(): string {
    return this.topology.redis.url;
  }

  get gatewayNames(): string[] {
    return this.topology.gateways.map((gateway) => gateway.instanceId);
  }

  deviceSocket(n: number): ClientOptions {
    const slot = n % SOURCE_ADDRESSES;
    let agent = this.agents.get(slot);
    if (!agent) this.agents.set(slot, (agent = fromAddress(`127.0.3.${slot + 1}`)));
    return agent;
  }

  async connectedSockets(index: number): Promise<number> {
    return (await MetricsSnapshot.scrape(this.topology.at(index).url)).value('herald_connected_sockets');
  }

  isReady(index: number): Promise<boolean> {
    return this.topology.at(index).isReady();
  }

  restartGateway(index: number): Promise<void> {
    return this.topology.restartGateway(index);
  }

  async crashGateway(index: number): Promise<void> {
    await this.topology.killGateway(index);
    // What a process manager does after a crash: start it again (same port), ready when it says so.
    await this.topology.launchGateway(index);
  }

  restartRedis(): Promise<void> {
    return this.topology.redis.restart();
  }

  async gatewayErrors(): Promise<GatewayErrorRecord[]> {
    const all = await Promise.all(this.topology.gateways.map(async (gateway) => errorRecords(gateway.instanceId, await gateway.logs())));
    return all.flat();
  }

  nginxErrors(): Promise<string[]> {
    return present(this.topology.nginx, 'nginx').errors();
  }

  nginxAccess(): Promise<NginxAccessRecord[]> {
    return present(this.topology.nginx, 'nginx').accessLog();
  }

  stop(): Promise<void> {
    return this.topology.stop();
  }
}

const COMPOSE_FILES = ['docker-compose.yml', 'docker/compose.without-grafana.yml', 'docker/compose.chaos.yml'];
/** docker/compose.chaos.yml publishes Redis here. */
const COMPOSE_REDIS_URL = 'redis://127.0.0.1:16379';
/** Each gateway's own published port (docker-compose.yml). */
const gatewayUrl = (index: number): string => `http://127.0.0.1:${3001 + index}`;

/**
 * The project's `docker compose` stack (without Grafana, Redis published for the SDK), on the images of this machine.
 * Gateway logs are followed with `docker compose logs --follow` for the whole run, so containers that a redeploy
 * removes keep their lines here.
 */
export class ComposeChaosTarget implements ChaosTarget {
  readonly name = 'compose';
  readonly url = `http://127.0.0.1:${COMPOSE_NGINX_PORT}`;
  readonly redisUrl = COMPOSE_REDIS_URL;
  readonly gatewayNames = COMPOSE_GATEWAYS;
  private readonly gatewayLines: Array<{ service: string; line: string }> = [];
  private follower: ChildProcess | undefined;
  private newImage: string | undefined;

  private constructor(
    private readonly stack: ComposeStack,
    private readonly env: Record<string, string>,
  ) {}

  static async start(): Promise<ComposeChaosTarget> {
    const config = topologyConfig();
    const env = composeStackEnv(config);
    const stack = await ComposeStack.up({ projectName: composeProjectName(config.HERALD_TEST_RUN_ID), files: COMPOSE_FILES, env });
    const target = new ComposeChaosTarget(stack, env);
    target.followLogs();
    return target;
  }

  private composeArgs(args: readonly string[]): string[] {
    return ['compose', '-p', this.stack.projectName, ...COMPOSE_FILES.flatMap((file) => ['-f', file]), ...args];
  }

  /** `docker compose logs --follow` of the gateways: it attaches to containers created later too (a redeploy). */
  private followLogs(): void {
    const child = spawn('docker', this.composeArgs(['logs', '--follow', '--no-color', ...COMPOSE_GATEWAYS]), {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.env },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let rest = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) {
        const bar = line.indexOf('| ');
        if (bar < 0) continue;
        this.gatewayLines.push({ service: line.slice(0, bar).trim(), line: line.slice(bar + 2) });
      }
    });
    this.follower = child;
  }

  deviceSocket(): ClientOptions {
    // Through docker-proxy nginx sees every client of this machine from one address: all devices share a gateway.
    return {};
  }

  async connectedSockets(index: number): Promise<number> {
    return (await MetricsSnapshot.scrape(gatewayUrl(index))).value('herald_connected_sockets');
  }

  isReady(index: number): Promise<boolean> {
    return isGatewayReady(gatewayUrl(index));
  }

  private async containerId(service: string): Promise<string> {
    const { stdout } = await run('docker', this.composeArgs(['ps', '--quiet', service]), { cwd: REPO_ROOT, env: { ...process.env, ...this.env } });
    const id = stdout.trim().split('\n')[0] ?? '';
    if (id === '') throw new Error(`no running container of ${service}`);
    return id;
  }

  private async startedAt(service: string): Promise<string> {
    const { stdout } = await run('docker', ['inspect', '--format', '{{.Id}} {{.State.StartedAt}}', await this.containerId(service)]);
    return stdout.trim();
  }

  private async waitBack(index: number, before: string): Promise<void> {
    const service = COMPOSE_GATEWAYS[index];
    await waitUntil(
      async () => (await this.startedAt(service).catch(() => before)) !== before && (await this.isReady(index)),
      `${service} to be running again and ready`,
      60_000,
      100,
    );
  }

  async restartGateway(index: number): Promise<void> {
    const service = COMPOSE_GATEWAYS[index];
    const before = await this.startedAt(service);
    // `docker compose restart`: SIGTERM (drain), start of the same container.
    await this.stack.compose(['restart', service]);
    await this.waitBack(index, before);
  }

  async crashGateway(index: number): Promise<void> {
    const service = COMPOSE_GATEWAYS[index];
    const before = await this.startedAt(service);
    const { stdout } = await run('docker', ['inspect', '--format', '{{.State.Pid}}', await this.containerId(service)]);
    // kill -9 of the Node process from the host, as the OOM killer or a crash would end it: Docker sees the process die
    // (not a `docker kill`, which counts as an operator's stop) and `restart: unless-stopped` starts it again.
    process.kill(Number(stdout.trim()), 'SIGKILL');
    await this.waitBack(index, before);
  }

  readonly redeploy = async (index: number): Promise<void> => {
    const image = await this.newBuild();
    // The documented rolling deploy (docs/operations.md#rolling-deploy-with-compose), one gateway per call.
    await run('docker', this.composeArgs(['up', '--detach', '--no-deps', '--wait', COMPOSE_GATEWAYS[index]]), {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.env, HERALD_IMAGE: image },
      timeout: 120_000,
    });
    await waitUntil(() => this.isReady(index), `${COMPOSE_GATEWAYS[index]} ready on the new build`, 30_000, 100);
  };

  /** A new image of the gateway (the current one plus a label): a new image id, so compose recreates the containers. */
  private async newBuild(): Promise<string> {
    if (this.newImage !== undefined) return this.newImage;
    const base = this.env['HERALD_IMAGE'];
    const image = `${base.split(':')[0]}:chaos-${this.stack.projectName}`;
    await new Promise<void>((resolve, reject) => {
      const child = spawn('docker', ['build', '--quiet', '--tag', image, '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', reject);
      child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`docker build of ${image} failed (${String(code)}): ${stderr}`))));
      child.stdin.end(`FROM ${base}\nLABEL org.herald.chaos-build="${new Date().toISOString()}"\n`);
    });
    this.newImage = image;
    return image;
  }

  async addressOf(index: number): Promise<string> {
    return this.stack.address(COMPOSE_GATEWAYS[index], 'herald');
  }

  async restartRedis(): Promise<void> {
    await this.stack.compose(['restart', 'redis']);
    await waitUntil(async () => (await this.stack.health('redis')) === 'healthy', 'redis healthy again', 60_000, 200);
  }

  async gatewayErrors(): Promise<GatewayErrorRecord[]> {
    return this.gatewayLines.flatMap(({ service, line }) => {
      if (!line.startsWith('{')) return [];
      try {
        return errorRecords(service, [JSON.parse(line) as LogRecord]);
      } catch {
        return [];
      }
    });
  }

  async nginxErrors(): Promise<string[]> {
    return (await this.stack.logs('nginx')).split('\n').filter((line) => /\[(warn|error|crit|alert|emerg)\]/.test(line));
  }

  async nginxAccess(): Promise<NginxAccessRecord[]> {
    return (await this.stack.logs('nginx')).split('\n').flatMap((line) => {
      if (!line.startsWith('{')) return [];
      try {
        const record = JSON.parse(line) as NginxAccessRecord;
        return typeof record.request === 'string' ? [record] : [];
      } catch {
        return [];
      }
    });
  }

  async stop(): Promise<void> {
    this.follower?.kill('SIGTERM');
    try {
      await this.stack.down();
    } finally {
      if (this.newImage !== undefined) await run('docker', ['image', 'rm', '--force', this.newImage]).catch(() => undefined);
    }
  }
}
