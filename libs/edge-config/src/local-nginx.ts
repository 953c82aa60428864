import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderNginxConfig, type EdgeLimits, type UpstreamServer } from './nginx-config.js';
import { REPO_ROOT } from './repo-root.js';

/** Where `npm run build` puts the demo page (scripts/build-demo.mjs). */
export const DEMO_BUILD_DIR = join(REPO_ROOT, 'dist/demo');

export interface LocalNginxOptions {
  /** A private, empty folder: config, pid and buffers go there, nothing else on the machine is touched. */
  prefix: string;
  port: number;
  host?: string;
  upstreams: readonly UpstreamServer[];
  limits?: Partial<EdgeLimits>;
  /** The built demo page to serve at /demo/; default DEMO_BUILD_DIR. */
  demoRoot?: string;
}

export interface LocalNginx {
  configPath: string;
  /**
   * JSON lines, one per request. A file, not stdout: nginx opens /dev/stdout itself, which fails (ENXIO) when
   * stdout is a socket, as it is for a child of Node.
   */
  accessLogPath: string;
  /** Arguments for the nginx binary: foreground, our prefix and config, errors to stderr. */
  args: string[];
}

/** Writes a rendered config for a non-daemon nginx that uses only `prefix`. */
export function prepareLocalNginx(options: LocalNginxOptions): LocalNginx {
  const { prefix } = options;
  const tempDir = join(prefix, 'temp');
  mkdirSync(tempDir, { recursive: true });
  // Run as root, nginx's workers drop to `nobody`: they must be able to reach their buffer folders.
  chmodSync(prefix, 0o755);
  chmodSync(tempDir, 0o755);
  const configPath = join(prefix, 'nginx.conf');
  const accessLogPath = join(prefix, 'access.log');
  writeFileSync(
    configPath,
    renderNginxConfig({
      listen: `${options.host ?? '127.0.0.1'}:${options.port}`,
      upstreams: options.upstreams,
      pidFile: join(prefix, 'nginx.pid'),
      tempDir,
      workerProcesses: 1,
      accessLog: `${accessLogPath} herald`,
      notice: 'Rendered from nginx/nginx.conf.template for a local run; removed when the run stops.',
      demoRoot: options.demoRoot ?? DEMO_BUILD_DIR,
      ...(options.limits === undefined ? {} : { limits: options.limits }),
    }),
  );
  // -e: nginx opens its compiled-in error log before reading the config; send that to stderr too.
  return { configPath, accessLogPath, args: ['-e', 'stderr', '-p', `${prefix}/`, '-c', configPath, '-g', 'daemon off;'] };
}
