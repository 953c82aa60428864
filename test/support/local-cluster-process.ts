import { resolve } from 'node:path';
import { ManagedProcess } from './child-process.js';
import { REPO_ROOT } from './paths.js';
import { freePort } from './ports.js';
import { waitUntil } from './wait.js';

const CLUSTER_MAIN = resolve(REPO_ROOT, 'dist/apps/cluster/src/main.js');

/** `npm start`'s entry (dist/apps/cluster/src/main.js) as a real child, on free ports, and what it printed. */
export class LocalClusterProcess {
  private constructor(
    readonly process: ManagedProcess,
    readonly gatewayPorts: number[],
    readonly nginxPort: number,
    readonly prometheusPort: number,
  ) {}

  static async start(env: Record<string, string> = {}, timeoutMs = 90_000): Promise<LocalClusterProcess> {
    const gatewayPorts = [await freePort(), await freePort(), await freePort()];
    const nginxPort = await freePort();
    const prometheusPort = await freePort();
    const child = new ManagedProcess('cluster', process.execPath, [CLUSTER_MAIN], {
      cwd: REPO_ROOT,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? '/tmp',
        HERALD_GATEWAY_PORTS: gatewayPorts.join(','),
        HERALD_NGINX_PORT: String(nginxPort),
        HERALD_PROMETHEUS_PORT: String(prometheusPort),
        ...env,
      },
    });
    const cluster = new LocalClusterProcess(child, gatewayPorts, nginxPort, prometheusPort);
    try {
      await waitUntil(
        () => {
          if (!child.running) throw new Error(`the cluster exited:\n${child.tail(60)}`);
          return cluster.printed(/Herald cluster is up/) !== undefined;
        },
        'the cluster to be up',
        timeoutMs,
        100,
      );
    } catch (error) {
      await child.stop(20_000);
      throw error;
    }
    return cluster;
  }

  /** The first capture group (or whole match) of the first output line matching `pattern`. */
  printed(pattern: RegExp): string | undefined {
    for (const line of this.process.lines) {
      const match = pattern.exec(line);
      if (match) return match.at(1) ?? match[0];
    }
    return undefined;
  }

  get nginxUrl(): string {
    return `http://127.0.0.1:${this.nginxPort}`;
  }

  get prometheusUrl(): string {
    return `http://127.0.0.1:${this.prometheusPort}`;
  }

  get tempDir(): string {
    return this.required(/temporary files in (\S+)/, 'the temp dir');
  }

  get redisUrl(): string {
    return this.required(/^\[herald\]\s+Redis\s+(redis:\/\/\S+)/, 'the Redis URL');
  }

  /** The token for user "demo" it prints when running with the development secret. */
  get demoToken(): string {
    return this.required(/token for user "demo" \(24 h\): (\S+)/, 'the demo token');
  }

  private required(pattern: RegExp, what: string): string {
    const value = this.printed(pattern);
    if (value === undefined) throw new Error(`the cluster did not print ${what}:\n${this.process.tail(60)}`);
    return value;
  }
}
