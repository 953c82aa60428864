import { randomBytes } from 'node:crypto';
import { fetchHealth, isGatewayReady } from '../gateway-health.js';
import { renderNginxConfig } from '@herald/edge-config';
import { pingRedis } from '@herald/local-services';
import { GenericContainer, ImageName, StartedNetwork, Wait, type ContainerRuntimeClient, type StartedTestContainer } from 'testcontainers';
import type { NginxAccessRecord } from '../nginx-process.js';
import { freePort } from '../ports.js';
import { DURABLE_REDIS_ARGS } from '../redis-server.js';
import { TEST_JWT_SECRET } from '../tokens.js';
import { waitUntil } from '../wait.js';
import { BaseTopology, initialGatewaySpecs, parseLogLines, settleAll } from './base-topology.js';
import { DockerUnavailableError, containerLines, dockerClient, requireImage } from './docker-engine.js';
import { DOCKER_HINT, RUN_LABEL, topologyConfig, type TopologyConfig } from './topology-config.js';
import type { ExitStatus, GatewayHandle, GatewaySpec, LogRecord, NginxHandle, RedisHandle, RedisRestartOptions, TopologyOptions } from './topology.js';

const GATEWAY_PORT = 3000;
const REDIS_PORT = 6379;
/** Docker 20.10 publishes ports of a user-defined network on 0.0.0.0 unless the network says otherwise. */
const LOOPBACK_BINDING = { 'com.docker.network.bridge.host_binding_ipv4': '127.0.0.1' };
const TOPOLOGY_LABEL = 'org.herald.test-topology';
const STARTUP_TIMEOUT_MS = 60_000;

const describeError = (error: unknown): string => (error instanceof Error ? error.message : String(error));

async function tailOf(docker: ContainerRuntimeClient, containerId: string, lines = 30): Promise<string> {
  try {
    return (await containerLines(docker, containerId)).slice(-lines).join('\n');
  } catch (error) {
    return `(no logs: ${describeError(error)})`;
  }
}

/**
 * A gateway container from the image built from the project's Dockerfile, published on a host port fixed for its
 * life, so its URL survives restart() and kill() + launch() (`docker stop`/`docker kill`, then `docker start` of the
 * same container: same environment, same instance id).
 */
class ContainerGateway implements GatewayHandle {
  readonly url: string;

  constructor(
    readonly instanceId: string,
    private readonly container: StartedTestContainer,
    private readonly docker: ContainerRuntimeClient,
    /** Called after every start again: the container may have a new address on the network (nginx's upstream). */
    private readonly onStartedAgain: () => Promise<void>,
  ) {
    this.url = `http://${container.getHost()}:${container.getMappedPort(GATEWAY_PORT)}`;
  }

  get id(): string {
    return this.container.getId();
  }

  /** Its address on the topology network now (Docker may hand out another one when the container starts again). */
  async address(network: string): Promise<string> {
    const inspected = await this.docker.container.inspect(this.docker.container.getById(this.container.getId()));
    const address = Object.entries(inspected.NetworkSettings.Networks).find(([name]) => name === network)?.[1].IPAddress;
    if (!address) throw new Error(`gateway container ${this.instanceId} has no address on network ${network}`);
    return address;
  }

  async health(kind: 'live' | 'ready'): Promise<{ status: number; body: unknown }> {
    return fetchHealth(this.url, kind);
  }

  async isReady(): Promise<boolean> {
    return isGatewayReady(this.url);
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    await waitUntil(
      async () => {
        if (!(await this.isRunning())) throw new Error(`gateway container ${this.instanceId} exited:\n${await tailOf(this.docker, this.container.getId())}`);
        return this.isReady();
      },
      `gateway container ${this.instanceId} to be ready`,
      timeoutMs,
      100,
    );
  }

  async logs(): Promise<LogRecord[]> {
    return parseLogLines(await containerLines(this.docker, this.container.getId()));
  }

  async logsWith(message: string): Promise<LogRecord[]> {
    return (await this.logs()).filter((record) => record['msg'] === message);
  }

  async connectionRecord(socketId: string): Promise<LogRecord | undefined> {
    return (await this.logsWith('connected')).find((record) => record['socketId'] === socketId);
  }

  private async state(): Promise<{ Running: boolean; StartedAt: string }> {
    return (await this.docker.container.inspect(this.docker.container.getById(this.container.getId()))).State;
  }

  async isRunning(): Promise<boolean> {
    return (await this.state()).Running;
  }

  async incarnation(): Promise<string> {
    return `container ${this.container.getId().slice(0, 12)} started ${(await this.state()).StartedAt}`;
  }

  async signal(signal: NodeJS.Signals): Promise<void> {
    // The image runs Node itself as PID 1 (exec-form CMD), so the signal reaches the gateway's own handlers.
    await this.docker.container.getById(this.container.getId()).kill({ signal });
  }

  async exited(): Promise<ExitStatus> {
    const result: unknown = await this.docker.container.getById(this.container.getId()).wait();
    return { code: (result as { StatusCode: number }).StatusCode, signal: null };
  }

  async kill(): Promise<void> {
    if (await this.isRunning()) await this.signal('SIGKILL');
    await this.exited();
  }

  async restart(): Promise<void> {
    // `docker stop`: SIGTERM (the image's STOPSIGNAL), SIGKILL only after 15 s, beyond the gateway's own 10 s limit.
    await this.docker.container.stop(this.docker.container.getById(this.container.getId()), { timeout: 15_000 });
    const status = await this.exited();
    if (status.code !== 0)
      throw new Error(`gateway container ${this.instanceId} exited with ${status.code} on SIGTERM:\n${await tailOf(this.docker, this.container.getId())}`);
    await this.launch();
  }

  async launch(): Promise<void> {
    if (await this.isRunning()) throw new Error(`gateway container ${this.instanceId} is still running: kill() or restart() it`);
    await this.docker.container.start(this.docker.container.getById(this.container.getId()));
    await this.waitReady();
    await this.onStartedAgain();
  }

  async stop(): Promise<void> {
    await this.container.stop({ timeout: 0, remove: true });
  }
}

/**
 * Redis in a container, published on a fixed loopback port so its URL survives kill(), launch() and restart(). Its
 * AOF lives in the container's /data volume, which `docker start` of the same container finds again.
 */
class ContainerRedis implements RedisHandle {
  readonly url: string;

  constructor(
    readonly container: StartedTestContainer,
    hostPort: number,
    private readonly docker: ContainerRuntimeClient,
  ) {
    this.url = `redis://127.0.0.1:${hostPort}`;
  }

  async kill(): Promise<void> {
    const container = this.docker.container.getById(this.container.getId());
    await container.kill({ signal: 'SIGKILL' });
    await container.wait();
  }

  async launch(): Promise<void> {
    await this.docker.container.start(this.docker.container.getById(this.container.getId()));
    await this.waitForPing();
  }

  async restart(options: RedisRestartOptions = {}): Promise<void> {
    const container = this.docker.container.getById(this.container.getId());
    // `docker stop`: SIGTERM, on which Redis fsyncs its AOF and exits 0; SIGKILL only after 10 s.
    await this.docker.container.stop(container, { timeout: 10_000 });
    const result = (await container.wait()) as { StatusCode: number };
    if (result.StatusCode !== 0) throw new Error(`redis container exited with ${result.StatusCode} on SIGTERM:\n${await tailOf(this.docker, this.container.getId())}`);
    await options.whileDown?.();
    await this.launch();
  }

  async waitForPing(): Promise<void> {
    await waitUntil(() => this.ping(), `redis container at ${this.url}`, 30_000, 100).catch(async (error: unknown) => {
      throw new Error(`${describeError(error)}\n${await tailOf(this.docker, this.container.getId())}`);
    });
  }

  private async ping(): Promise<boolean> {
    return pingRedis(this.url, 1000);
  }
}

/**
 * nginx in the host's network namespace, in front of the gateway containers' addresses on the topology network.
 * Why not inside the network like the compose stack: Docker's port publishing (docker-proxy, or NAT with masquerade
 * for loopback clients) replaces every client address with the network's gateway address, so nginx would see one
 * client and `hash $remote_addr` could not spread the tests' clients, which differ only by their loopback source
 * address. On the host, nginx sees those addresses as it sees real ones in production (docs/testing.md).
 */
class ContainerNginx implements NginxHandle {
  readonly url: string;

  constructor(
    readonly container: StartedTestContainer,
    readonly port: number,
    readonly addressSeenByGateways: string,
    private readonly docker: ContainerRuntimeClient,
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  private lines(): Promise<string[]> {
    return containerLines(this.docker, this.container.getId());
  }

  async accessLog(): Promise<NginxAccessRecord[]> {
    return parseLogLines(await this.lines()).filter((record) => typeof record['request'] === 'string') as unknown as NginxAccessRecord[];
  }

  async errors(): Promise<string[]> {
    return (await this.lines()).filter((line) => /\[(warn|error|crit|alert|emerg)\]/.test(line));
  }

  async waitListening(): Promise<void> {
    await waitUntil(
      async () => {
        const { State } = await this.docker.container.inspect(this.docker.container.getById(this.container.getId()));
        if (!State.Running) throw new Error(`nginx container exited:\n${await tailOf(this.docker, this.container.getId())}`);
        // Any answer from nginx itself (the catch-all 404) means it listens.
        return (await fetch(`${this.url}/`).catch(() => undefined))?.status === 404;
      },
      `nginx container on port ${this.port}`,
      30_000,
      100,
    );
  }
}

/**
 * Docker containers started with testcontainers: Redis, gateways from the project's image, nginx, on one
 * user-defined network whose published ports listen on loopback only. Every container and the network carry
 * the run's label; stop() removes them, and the suite runner sweeps the label afterwards in case a test process died.
 */
export class ContainersTopology extends BaseTopology {
  readonly kind = 'containers';
  private readonly containers: StartedTestContainer[] = [];
  private redisContainer: ContainerRedis | undefined;
  private network: StartedNetwork | undefined;
  private networkGateway = '';
  private readonly id = randomBytes(3).toString('hex');
  private gatewayCount = 0;
  private stopped = false;
  private nginxContainer: ContainerNginx | undefined;
  /** nginx's upstream servers as last rendered: one per initial gateway, by its address on the network. */
  private upstreams: Array<{ gateway: ContainerGateway; address: string }> = [];

  private constructor(
    private readonly docker: ContainerRuntimeClient,
    private readonly config: TopologyConfig,
    private readonly gatewayEnv: Record<string, string>,
  ) {
    super();
  }

  private get networkName(): string {
    if (!this.network) throw new Error('the topology network is not created yet');
    return this.network.getName();
  }

  get redis(): RedisHandle {
    if (!this.redisContainer) throw new Error('the topology has no redis');
    return this.redisContainer;
  }

  static async start(options: TopologyOptions = {}): Promise<ContainersTopology> {
    const config = topologyConfig();
    const docker = await dockerClient();
    await requireImage(config.REDIS_IMAGE, DOCKER_HINT);
    if (options.nginx) await requireImage(config.NGINX_IMAGE, DOCKER_HINT);
    if (!(await docker.image.exists(ImageName.fromString(config.HERALD_GATEWAY_IMAGE)))) {
      throw new DockerUnavailableError(
        `the gateway image ${config.HERALD_GATEWAY_IMAGE} does not exist: \`npm run test:containers\` builds it from the Dockerfile before the tests ` +
          `(to run one file: \`npm run test:containers -- dist/test/scenarios/<file>.test.js\`). ${DOCKER_HINT}`,
      );
    }

    const topology = new ContainersTopology(docker, config, options.gatewayEnv ?? {});
    try {
      await topology.startNetwork();
      await topology.startRedis();
      const initial = await Promise.allSettled(initialGatewaySpecs(options).map((spec) => topology.startGateway(spec)));
      for (const result of initial) if (result.status === 'fulfilled') topology.started.push(result.value.handle);
      const failed = initial.find((result) => result.status === 'rejected');
      if (failed) throw failed.reason;
      if (options.nginx) {
        topology.upstreams = initial.map((result) => {
          const { handle, ip } = (result as PromiseFulfilledResult<{ handle: ContainerGateway; ip: string }>).value;
          return { gateway: handle, address: ip };
        });
        topology.nginxContainer = await topology.startNginx();
        topology.nginx = topology.nginxContainer;
      }
      return topology;
    } catch (error) {
      await topology.stop().catch(() => undefined);
      throw error;
    }
  }

  private name(role: string): string {
    return `herald-${this.config.HERALD_TEST_RUN_ID}-${this.id}-${role}`;
  }

  private get labels(): Record<string, string> {
    return { [RUN_LABEL]: this.config.HERALD_TEST_RUN_ID, [TOPOLOGY_LABEL]: this.id };
  }

  private async startNetwork(): Promise<void> {
    const name = this.name('net');
    const network = await this.docker.network.create({ Name: name, Driver: 'bridge', CheckDuplicate: true, Options: LOOPBACK_BINDING, Labels: this.labels });
    this.network = new StartedNetwork(this.docker, name, network);
    const inspected = (await network.inspect()) as { IPAM?: { Config?: Array<{ Gateway?: string }> } };
    // The host's own address on this network: what a container sees as the peer of anything coming from the host.
    this.networkGateway = inspected.IPAM?.Config?.[0]?.Gateway ?? '';
    if (!this.networkGateway) throw new Error(`network ${name} has no gateway address`);
  }

  /** Starts a container; if it does not come up, removes it and says why, with its last output. */
  private async run(container: GenericContainer, name: string): Promise<StartedTestContainer> {
    try {
      const started = await container.withName(name).withLabels(this.labels).withStartupTimeout(STARTUP_TIMEOUT_MS).start();
      this.containers.push(started);
      return started;
    } catch (error) {
      const leftover = this.docker.container.getById(name);
      const tail = await tailOf(this.docker, name);
      await leftover.remove({ force: true }).catch(() => undefined);
      throw new Error(`container ${name} did not start: ${describeError(error)}\n${tail}`, { cause: error });
    }
  }

  private async startRedis(): Promise<void> {
    const hostPort = await freePort();
    const container = new GenericContainer(this.config.REDIS_IMAGE)
      .withNetworkMode(this.networkName)
      .withExposedPorts({ container: REDIS_PORT, host: hostPort })
      .withCommand(['redis-server', '--dir', '/data', ...DURABLE_REDIS_ARGS])
      .withWaitStrategy(Wait.forLogMessage(/Ready to accept connections/));
    const redis = new ContainerRedis(await this.run(container, this.name('redis')), hostPort, this.docker);
    await redis.waitForPing();
    this.redisContainer = redis;
  }

  async addGateway(spec: GatewaySpec = {}): Promise<GatewayHandle> {
    const { handle } = await this.startGateway(spec);
    this.started.push(handle);
    return handle;
  }

  private async startGateway(spec: GatewaySpec): Promise<{ handle: ContainerGateway; ip: string }> {
    const index = ++this.gatewayCount;
    const instanceId = spec.instanceId ?? `gw-${index}`;
    // A fixed host port: Docker would pick another ephemeral one when the container starts again.
    const hostPort = await freePort();
    const container = new GenericContainer(this.config.HERALD_GATEWAY_IMAGE)
      .withNetworkMode(this.networkName)
      .withExposedPorts({ container: GATEWAY_PORT, host: hostPort })
      .withEnvironment({
        PORT: String(GATEWAY_PORT),
        HOST: '0.0.0.0',
        REDIS_URL: `redis://${this.name('redis')}:${REDIS_PORT}`,
        JWT_SECRET: TEST_JWT_SECRET,
        INSTANCE_ID: instanceId,
        LOG_LEVEL: 'debug',
        // nginx (on the host) reaches the gateways from the host's address on the network.
        TRUSTED_PROXIES: `loopback,${this.networkGateway}`,
        ...this.gatewayEnv,
        ...spec.env,
      })
      // The image's own HEALTHCHECK first runs after 10 s; readiness is polled below instead. The log line comes
      // first and a container that exits before it fails at once.
      .withWaitStrategy(Wait.forLogMessage(/listening on/));
    const started = await this.run(container, this.name(`gateway-${index}`));
    const handle: ContainerGateway = new ContainerGateway(instanceId, started, this.docker, () => this.gatewayStartedAgain(handle));
    await handle.waitReady();
    return { handle, ip: started.getIpAddress(this.networkName) };
  }

  private nginxConfig(port: number): string {
    return renderNginxConfig({
      listen: `127.0.0.1:${port}`,
      upstreams: this.upstreams.map(({ address }) => ({ host: address, port: GATEWAY_PORT })),
      pidFile: '/tmp/nginx.pid',
      tempDir: '/tmp',
      workerProcesses: 1,
      accessLog: '/dev/stdout herald',
      notice: 'Rendered from nginx/nginx.conf.template for a containers test topology.',
    });
  }

  /**
   * A gateway container started again may have another address on the network: nginx's upstream then follows it
   * (the configuration rendered again, `nginx -s reload`), as a production balancer with service discovery would.
   */
  private async gatewayStartedAgain(gateway: ContainerGateway): Promise<void> {
    const upstream = this.upstreams.find((candidate) => candidate.gateway === gateway);
    if (!upstream || !this.nginxContainer) return;
    const address = await gateway.address(this.networkName);
    if (address === upstream.address) return;
    upstream.address = address;
    await this.nginxContainer.container.copyContentToContainer([{ content: this.nginxConfig(this.nginxContainer.port), target: '/etc/nginx/nginx.conf', mode: 0o644 }]);
    const reload = await this.nginxContainer.container.exec(['nginx', '-s', 'reload']);
    if (reload.exitCode !== 0) throw new Error(`nginx reload after ${gateway.instanceId} moved to ${address} failed: ${reload.output}`);
  }

  private async startNginx(): Promise<ContainerNginx> {
    const port = await freePort();
    const config = this.nginxConfig(port);
    const container = new GenericContainer(this.config.NGINX_IMAGE)
      .withNetworkMode('host')
      .withCopyContentToContainer([{ content: config, target: '/etc/nginx/nginx.conf', mode: 0o644 }])
      .withWaitStrategy(Wait.forListeningPorts());
    const nginx = new ContainerNginx(await this.run(container, this.name('nginx')), port, this.networkGateway, this.docker);
    await nginx.waitListening();
    return nginx;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    // timeout 0: SIGKILL at once; a test that needs a graceful stop signals the gateway itself.
    await settleAll(
      'stopping the containers topology',
      this.containers.map((container) => () => container.stop({ timeout: 0, remove: true })),
    );
    await this.network?.stop();
  }
}
