import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pingRedis } from '@herald/local-services';
import { ManagedProcess } from './child-process.js';
import { freePort } from './ports.js';
import { waitUntil } from './wait.js';

/**
 * The persistence Herald's Redis runs with (docs/operations.md): an append-only file fsynced every second, no RDB
 * snapshots, and never evicting a key (a feed or the command stream must not vanish under memory pressure).
 */
export const DURABLE_REDIS_ARGS: readonly string[] = ['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction'];

/**
 * A private redis-server on a free loopback port (never the machine's shared 6379), with AOF persistence in a
 * private temporary directory that `stop()` removes.
 *
 * - `kill()` is a crash (SIGKILL): whatever was not yet fsynced to the AOF (at most about the last second of writes
 *   with `appendfsync everysec`) is lost.
 * - `launch()` starts the server again on the same port and directory: it reloads the AOF, so what was fsynced
 *   survives a `kill()`.
 * - `restart()` is a graceful restart (SIGTERM: Redis fsyncs the AOF and exits), then `launch()`: nothing is lost.
 */
export class RedisServer {
  private process?: ManagedProcess;

  private constructor(
    readonly port: number,
    /** Working directory: the AOF (appendonlydir/) lives here. */
    readonly dir: string,
  ) {}

  /** On a free port; tried again on another one if something else took the port before redis-server bound it. */
  static async start(): Promise<RedisServer> {
    for (let attempt = 1; ; attempt++) {
      const server = new RedisServer(await freePort(), mkdtempSync(join(tmpdir(), 'herald-redis-')));
      try {
        await server.launch();
        return server;
      } catch (error) {
        await server.stop();
        if (attempt >= 3 || !String(error).includes('Address already in use')) throw error;
      }
    }
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.process?.running ?? false;
  }

  /**
   * Graceful restart that keeps every write: SIGTERM (Redis writes and fsyncs the AOF, then exits), then launch() on
   * the same port; `whileDown` runs in between.
   */
  async restart(options: { whileDown?: () => Promise<void> } = {}): Promise<void> {
    await this.shutdown();
    await options.whileDown?.();
    await this.launch();
  }

  /** A crash and a start again (what `restart()` did before Redis had persistence): kill(), then launch(). */
  async crashRestart(): Promise<void> {
    await this.kill();
    await this.launch();
  }

  /** Kills the server with no clean shutdown, like a crash: writes not yet fsynced to the AOF are lost. */
  async kill(): Promise<void> {
    this.process?.signal('SIGKILL');
    await this.process?.exited;
  }

  /**
   * Graceful shutdown (SIGTERM, which Redis handles like SHUTDOWN: the AOF is flushed and fsynced) and waits for the
   * exit; the data directory stays, for launch().
   */
  async shutdown(timeoutMs = 10_000): Promise<void> {
    const process = this.process;
    if (!process?.running) return;
    process.signal('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const exit = await Promise.race([process.exited, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)))]);
    clearTimeout(timer);
    if (exit === 'timeout') {
      process.signal('SIGKILL');
      await process.exited;
      throw new Error(`redis-server on port ${this.port} did not exit within ${timeoutMs} ms of SIGTERM:\n${process.tail()}`);
    }
    if (exit.code !== 0) throw new Error(`redis-server on port ${this.port} exited with ${JSON.stringify(exit)} on SIGTERM:\n${process.tail()}`);
  }

  /** Stops the server (no need to keep data) and removes its data directory. */
  async stop(): Promise<void> {
    await this.process?.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Starts the server on the same port and data directory (after kill() or shutdown()): it reloads the AOF. */
  async launch(): Promise<void> {
    if (this.process?.running) throw new Error(`redis-server on port ${this.port} is still running`);
    this.process = new ManagedProcess(`redis:${this.port}`, 'redis-server', [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--dir',
      this.dir,
      ...DURABLE_REDIS_ARGS,
      // A bound for a test or benchmark that runs away: with noeviction Redis then refuses writes (the test fails
      // loudly) instead of taking the machine's memory. A 2-core test machine has 24 GiB; one run once took 21.
      '--maxmemory',
      '2gb',
      '--protected-mode',
      'no',
    ]);
    // Loading a large AOF takes a moment: PING answers LOADING meanwhile, which pingRedis does not count as up.
    await waitUntil(() => this.ping(), `redis-server on port ${this.port}`, 20_000, 50).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${this.process?.tail()}`);
    });
  }

  private async ping(): Promise<boolean> {
    if (!this.process?.running) throw new Error(`redis-server exited: ${this.process?.tail()}`);
    return pingRedis(this.url);
  }
}
