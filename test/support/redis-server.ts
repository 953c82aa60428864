import { pingRedis } from '@herald/local-services';
import { ManagedProcess } from './child-process.js';
import { freePort } from './ports.js';
import { waitUntil } from './wait.js';

/** A private redis-server on a free loopback port (never the machine's shared 6379). */
export class RedisServer {
  private process?: ManagedProcess;

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const server = new RedisServer(await freePort());
    await server.launch();
    return server;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Kills the server (no clean shutdown, like a crash) and starts a new empty one on the same port. */
  async restart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  async kill(): Promise<void> {
    this.process?.signal('SIGKILL');
    await this.process?.exited;
  }

  async stop(): Promise<void> {
    await this.process?.stop();
  }

  /** Starts the server again on the same port after `kill()`. */
  async launch(): Promise<void> {
    this.process = new ManagedProcess(`redis:${this.port}`, 'redis-server', [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--protected-mode',
      'no',
    ]);
    await waitUntil(() => this.ping(), `redis-server on port ${this.port}`, 10_000, 50).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${this.process?.tail()}`);
    });
  }

  private async ping(): Promise<boolean> {
    if (!this.process?.running) throw new Error(`redis-server exited: ${this.process?.tail()}`);
    return pingRedis(this.url);
  }
}
