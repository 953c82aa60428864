import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, prepareLocalNginx, type EdgeLimits } from '@herald/edge-config';
import { ManagedProcess } from './child-process.js';
import { freePort } from './ports.js';
import { waitUntil } from './wait.js';

/** One line of the access log (the template's `herald` JSON format). */
export interface NginxAccessRecord {
  client: string;
  request: string;
  status: string;
  upstream: string;
  upstream_status: string;
}

/**
 * A real nginx in the foreground (`daemon off;`) with the configuration rendered from nginx/nginx.conf.template,
 * on a free loopback port, in front of the given gateway ports. Everything it writes stays in a temp prefix.
 */
export class NginxProcess {
  private constructor(
    readonly process: ManagedProcess,
    readonly port: number,
    readonly prefix: string,
    readonly configPath: string,
    private readonly accessLogPath: string,
  ) {}

  static async start(upstreamPorts: readonly number[], limits?: Partial<EdgeLimits>): Promise<NginxProcess> {
    const binary = findBinary('nginx');
    if (!binary) throw new Error('nginx is not installed: run `bash scripts/system-deps.sh` (Debian package nginx)');
    const port = await freePort();
    const prefix = mkdtempSync(join(tmpdir(), 'herald-nginx-'));
    const { configPath, accessLogPath, args } = prepareLocalNginx({
      prefix,
      port,
      upstreams: upstreamPorts.map((upstreamPort) => ({ host: '127.0.0.1', port: upstreamPort })),
      ...(limits === undefined ? {} : { limits }),
    });
    const nginx = new NginxProcess(new ManagedProcess(`nginx:${port}`, binary, args), port, prefix, configPath, accessLogPath);
    try {
      await waitUntil(
        async () => {
          if (!nginx.process.running) throw new Error(`nginx exited:\n${nginx.process.tail()}`);
          // Any answer from nginx itself (the catch-all 404) means it listens.
          return (await fetch(`${nginx.url}/`).catch(() => undefined))?.status === 404;
        },
        `nginx on port ${port}`,
        10_000,
        50,
      );
    } catch (error) {
      await nginx.stop();
      throw error;
    }
    return nginx;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Parsed access log records, oldest first. */
  accessLog(): NginxAccessRecord[] {
    if (!existsSync(this.accessLogPath)) return [];
    return readFileSync(this.accessLogPath, 'utf8')
      .split('\n')
      .flatMap((line) => {
        if (!line.startsWith('{')) return [];
        try {
          return [JSON.parse(line) as NginxAccessRecord];
        } catch {
          return [];
        }
      });
  }

  /** nginx's own warnings and errors (its stderr). */
  errors(): string[] {
    return this.process.lines.filter((line) => /\[(warn|error|crit|alert|emerg)\]/.test(line));
  }

  async stop(): Promise<void> {
    // SIGTERM is nginx's fast shutdown: open connections are closed, which is what a test teardown wants.
    await this.process.stop();
    rmSync(this.prefix, { recursive: true, force: true });
  }
}
