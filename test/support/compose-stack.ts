import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { encodeCommand, type Pattern } from '@herald/contracts';
import type { StartedDockerComposeEnvironment, StartedTestContainer } from 'testcontainers';
import { REPO_ROOT } from './paths.js';

const run = promisify(execFile);

export interface ComposeStackOptions {
  projectName: string;
  /** Compose files relative to the repository, the first one being the project file. */
  files: readonly string[];
  /** Variables the compose files interpolate (images, JWT_SECRET...). */
  env: Record<string, string>;
  startupTimeoutMs?: number;
}

interface ContainerSummary {
  Id: string;
  Labels: Record<string, string>;
  State: string;
}

/**
 * `docker compose up` of the repository's compose files through testcontainers' DockerComposeEnvironment, which
 * waits for every container's health check. testcontainers is loaded on first use only: `npm test` never needs it.
 */
export class ComposeStack {
  private downed = false;

  private constructor(
    private readonly environment: StartedDockerComposeEnvironment,
    readonly projectName: string,
    private readonly options: ComposeStackOptions,
  ) {}

  static async up(options: ComposeStackOptions): Promise<ComposeStack> {
    const { DockerComposeEnvironment } = await import('testcontainers');
    const environment = await new DockerComposeEnvironment(REPO_ROOT, [...options.files])
      .withProjectName(options.projectName)
      .withEnvironment(options.env)
      .withStartupTimeout(options.startupTimeoutMs ?? 180_000)
      .up();
    return new ComposeStack(environment, options.projectName, options);
  }

  /** The (first) container of a compose service. */
  container(service: string): StartedTestContainer {
    return this.environment.getContainer(`${service}-1`);
  }

  /** The health status Docker reports for a service's container (`healthy`, `starting`, ...), or `none`. */
  async health(service: string): Promise<string> {
    return (await this.inspect(service)).State.Health?.Status ?? 'none';
  }

  /** The address of a service's container on one of the project's networks (compose names it `<project>_<network>`). */
  async address(service: string, network: string): Promise<string> {
    const networks: Partial<Record<string, { IPAddress: string }>> = (await this.inspect(service)).NetworkSettings.Networks;
    const address = networks[this.networkName(network)]?.IPAddress ?? '';
    if (address === '') throw new Error(`${service} has no address on ${this.networkName(network)}`);
    return address;
  }

  networkName(network: string): string {
    return `${this.projectName}_${network}`;
  }

  /** `docker compose <args>` on this project, its files and variables, as an operator runs it (stop, rm, up -d...). */
  async compose(args: readonly string[], timeoutMs = 120_000): Promise<string> {
    const files = this.options.files.flatMap((file) => ['-f', file]);
    const { stdout, stderr } = await run('docker', ['compose', '-p', this.projectName, ...files, ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.options.env },
      timeout: timeoutMs,
    });
    return `${stdout}${stderr}`;
  }

  /** Everything a service's container logged (stdout and stderr). */
  async logs(service: string): Promise<string> {
    const { stdout, stderr } = await run('docker', ['logs', (await this.inspect(service)).Id], { maxBuffer: 64 * 1024 * 1024 });
    return `${stdout}${stderr}`;
  }

  /**
   * Starts a container that holds `address` on a project network and listens on nothing (removed with `release`):
   * what a recreated service's old address points to once something else got it.
   */
  async occupyAddress(network: string, address: string, image: string): Promise<{ release: () => Promise<void> }> {
    const name = `${this.projectName}-holds-${address.replace(/\W/g, '-')}`;
    await run('docker', ['run', '-d', '--rm', '--name', name, '--network', this.networkName(network), '--ip', address, '--entrypoint', 'sleep', image, 'infinity']);
    return {
      release: async () => {
        await run('docker', ['rm', '-f', name]);
      },
    };
  }

  /** The service's current container: looked up by label, so a container compose recreated is found too. */
  private async inspect(service: string): ReturnType<Awaited<ReturnType<ComposeStack['docker']>>['container']['inspect']> {
    const docker = await this.docker();
    const containers: ReadonlyArray<{ Id: string }> = await docker.container.dockerode.listContainers({
      all: true,
      filters: { label: [`com.docker.compose.project=${this.projectName}`, `com.docker.compose.service=${service}`] },
    });
    const found = containers.at(0);
    if (found === undefined) throw new Error(`no container of service ${service} in ${this.projectName}`);
    return docker.container.inspect(docker.container.getById(found.Id));
  }

  /** Services of this project with a running container. */
  async runningServices(): Promise<string[]> {
    return (await this.projectContainers())
      .filter((container) => container.State === 'running')
      .map((container) => container.Labels['com.docker.compose.service'] ?? '?');
  }

  /** PUBLISH of the wire format from inside the compose network (`redis-cli` in the redis container); returns the receivers. */
  async publish(pattern: Pattern, data: unknown): Promise<number> {
    const result = await this.container('redis').exec(['redis-cli', 'PUBLISH', pattern, encodeCommand(pattern, data)]);
    const receivers = Number(result.stdout.trim());
    if (result.exitCode !== 0 || !Number.isInteger(receivers)) throw new Error(`redis-cli PUBLISH failed (exit ${result.exitCode}): ${result.output}`);
    return receivers;
  }

  /** `docker compose down` with its volumes; safe to call twice. */
  async down(): Promise<void> {
    if (this.downed) return;
    this.downed = true;
    await this.environment.down({ timeout: 0, removeVolumes: true });
  }

  /** Containers and networks of this project that still exist. */
  async leftovers(): Promise<{ containers: string[]; networks: string[] }> {
    const docker = await this.docker();
    const networks = await docker.container.dockerode.listNetworks({ filters: { label: [`com.docker.compose.project=${this.projectName}`] } });
    return { containers: (await this.projectContainers()).map((container) => container.Id), networks: networks.map((network) => network.Name) };
  }

  private async projectContainers(): Promise<ContainerSummary[]> {
    const docker = await this.docker();
    return docker.container.dockerode.listContainers({ all: true, filters: { label: [`com.docker.compose.project=${this.projectName}`] } });
  }

  private async docker(): ReturnType<typeof import('./topology/docker-engine.js').dockerClient> {
    const { dockerClient } = await import('./topology/docker-engine.js');
    return dockerClient();
  }
}
