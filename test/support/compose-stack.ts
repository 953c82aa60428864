import { encodeCommand, type Pattern } from '@herald/contracts';
import type { StartedDockerComposeEnvironment, StartedTestContainer } from 'testcontainers';
import { REPO_ROOT } from './paths.js';

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
  ) {}

  static async up(options: ComposeStackOptions): Promise<ComposeStack> {
    const { DockerComposeEnvironment } = await import('testcontainers');
    const environment = await new DockerComposeEnvironment(REPO_ROOT, [...options.files])
      .withProjectName(options.projectName)
      .withEnvironment(options.env)
      .withStartupTimeout(options.startupTimeoutMs ?? 180_000)
      .up();
    return new ComposeStack(environment, options.projectName);
  }

  /** The (first) container of a compose service. */
  container(service: string): StartedTestContainer {
    return this.environment.getContainer(`${service}-1`);
  }

  /** The health status Docker reports for a service's container (`healthy`, `starting`, ...), or `none`. */
  async health(service: string): Promise<string> {
    const docker = await this.docker();
    const inspected = await docker.container.inspect(docker.container.getById(this.container(service).getId()));
    return inspected.State.Health?.Status ?? 'none';
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
