import { once } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { ImageName, getContainerRuntimeClient, type ContainerRuntimeClient } from 'testcontainers';
import { DOCKER_HINT } from './topology-config.js';

/** Thrown when the containers topology cannot work: no engine, a missing image. Its message says why and what to do. */
export class DockerUnavailableError extends Error {
  override readonly name = 'DockerUnavailableError';
}

let client: Promise<ContainerRuntimeClient> | undefined;

/** testcontainers' client for the local engine, or an error that says there is none and how to get one. */
export async function dockerClient(): Promise<ContainerRuntimeClient> {
  client ??= getContainerRuntimeClient().catch((error: unknown) => {
    client = undefined;
    throw new DockerUnavailableError(
      `the containers topology needs a Docker engine and none answered (${error instanceof Error ? error.message : String(error)}). ${DOCKER_HINT}`,
    );
  });
  return client;
}

/**
 * Makes sure an image is on this machine: pulls it when missing (testcontainers would too), and when that fails
 * says which image and how to get one without a registry.
 */
export async function requireImage(image: string, hint: string): Promise<void> {
  const docker = await dockerClient();
  const name = ImageName.fromString(image);
  if (await docker.image.exists(name)) return;
  try {
    await docker.image.pull(name);
  } catch (error) {
    throw new DockerUnavailableError(
      `image ${image} is not on this machine and could not be pulled (${error instanceof Error ? error.message : String(error)}). ${hint}`,
    );
  }
  if (!(await docker.image.exists(name))) throw new DockerUnavailableError(`image ${image} is not on this machine and pulling it did not help. ${hint}`);
}

/** Everything a container wrote to stdout and stderr so far, in order (not followed: what the engine holds now). */
export async function containerOutput(docker: ContainerRuntimeClient, containerId: string): Promise<string> {
  const container = docker.container.getById(containerId);
  const raw = await container.logs({ stdout: true, stderr: true, follow: false });
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done();
    },
  });
  // Without a TTY the engine multiplexes stdout and stderr in frames; docker-modem splits them.
  const input = Readable.from([raw]);
  const ended = once(input, 'end');
  docker.container.dockerode.modem.demuxStream(input, sink, sink);
  await ended;
  return Buffer.concat(chunks).toString('utf8');
}

export async function containerLines(docker: ContainerRuntimeClient, containerId: string): Promise<string[]> {
  return (await containerOutput(docker, containerId)).split('\n').filter((line) => line.length > 0);
}
