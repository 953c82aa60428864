import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { freePort, pingRedis } from '@herald/local-services';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { NOTIFICATIONS_NAMESPACE, Patterns, encodeCommand } from '@herald/contracts';
import { COMPOSE_GATEWAYS, COMPOSE_GATEWAY_PORT, PROMETHEUS_CONFIG_PATH, REPO_ROOT, findBinary, localPrometheusConfig, prepareLocalNginx } from '@herald/edge-config';
import { SignJWT } from 'jose';
import { DEVELOPMENT_JWT_SECRET, type ClusterConfig } from './cluster-config.js';
import { durabilityWarnings, readRedisDurability, redisDurabilityArgs, redisOwningDir, redisPidFile } from './redis-durability.js';
import { SupervisedProcess } from './supervised-process.js';

const GATEWAY_MAIN = join(REPO_ROOT, 'dist/apps/gateway/src/main.js');
const SYSTEM_DEPS = join(REPO_ROOT, 'scripts/system-deps.sh');
// Longer than the gateway's own drain timeout (SHUTDOWN_TIMEOUT_MS, 10 s by default).
const GATEWAY_STOP_GRACE_MS = 15_000;
const STOP_GRACE_MS = 5_000;
// redis-server answers PING only once it has replayed its append-only file, which takes a while when it is big.
const REDIS_START_TIMEOUT_MS = 60_000;

export class ClusterStartError extends Error {
  override readonly name = 'ClusterStartError';
}

function requireBinary(name: string): string {
  const binary = findBinary(name);
  if (binary === undefined) throw new ClusterStartError(`${name} is not on PATH`);
  return binary;
}

/**
 * `npm start`: redis (unless REDIS_URL), N gateways, nginx in front, Prometheus when installed; all children of this
 * process. Everything but Redis's data folder (HERALD_REDIS_DIR) lives in a temporary folder removed on exit.
 */
export class LocalCluster {
  private readonly gateways: SupervisedProcess[] = [];
  private redis?: SupervisedProcess;
  private nginx?: SupervisedProcess;
  private prometheus?: SupervisedProcess;
  private tempDir?: string;
  private redisUrl = '';
  private stopping?: Promise<void>;
  private readonly exitListeners: Array<(code: number) => void> = [];

  constructor(private readonly config: ClusterConfig) {}

  /** Called once the cluster has stopped by itself (a vital child died), with the exit code to use. */
  onStopped(listener: (code: number) => void): void {
    this.exitListeners.push(listener);
  }

  async start(): Promise<void> {
    this.ensureBinaries();
    this.tempDir = mkdtempSync(join(tmpdir(), 'herald-cluster-'));
    say(`temporary files in ${this.tempDir} (removed on exit)`);
    await this.startRedis();
    await this.startGateways();
    await this.startNginx();
    await this.startPrometheus();
    await this.printSummary();
  }

  /** Stops every child (gateways first, so they drain) and removes the temporary files. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      say('stopping...');
      await Promise.all(this.gateways.map((gateway) => gateway.stop(GATEWAY_STOP_GRACE_MS)));
      await Promise.all([this.nginx, this.prometheus, this.redis].filter((child) => child !== undefined).map((child) => child.stop(STOP_GRACE_MS)));
      this.removeTempDir();
      say('stopped');
    })();
    return this.stopping;
  }

  /** Last resort when this process exits without stop(): no child or file may outlive it. */
  killNow(): void {
    for (const child of [...this.gateways, this.nginx, this.prometheus, this.redis]) child?.signal('SIGKILL');
    this.removeTempDir();
  }

  /** The pids of every child, for diagnostics. */
  get pids(): number[] {
    return [...this.gateways, this.nginx, this.prometheus, this.redis].flatMap((child) => (child?.pid === undefined ? [] : [child.pid]));
  }

  /** The temporary directory start() made. */
  private get workDir(): string {
    if (this.tempDir === undefined) throw new Error('the cluster has not been started');
    return this.tempDir;
  }

  private removeTempDir(): void {
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
  }

  /** Installs missing Debian packages through scripts/system-deps.sh (as root), or says what to install. */
  private ensureBinaries(): void {
    const needed = ['nginx', ...(this.config.redisUrl ? [] : ['redis-server'])];
    const missing = needed.filter((binary) => !findBinary(binary));
    if (missing.length === 0) return;
    say(`missing ${missing.join(', ')}: running scripts/system-deps.sh`);
    const result = spawnSync('bash', [SYSTEM_DEPS, ...missing], { stdio: 'inherit' });
    const still = needed.filter((binary) => !findBinary(binary));
    if (result.status !== 0 || still.length > 0) {
      throw new ClusterStartError(`cannot start without ${still.join(', ') || missing.join(', ')} (see above for what to install)`);
    }
  }

  private async startRedis(): Promise<void> {
    if (this.config.redisUrl) {
      this.redisUrl = this.config.redisUrl;
      say(`using Redis at ${this.redisUrl}`);
      await this.checkDurability();
      return;
    }
    // Its data outlives the cluster (unlike the temporary folder), so a restart of `npm start` keeps every inbox.
    const dir = this.config.redisDir;
    mkdirSync(dir, { recursive: true });
    const owner = redisOwningDir(dir);
    if (owner !== undefined) {
      throw new ClusterStartError(`redis-server ${owner} (another npm start?) still uses ${dir}: stop it, or set HERALD_REDIS_DIR to another folder`);
    }
    const port = this.config.redisPort ?? (await freePort());
    this.redisUrl = `redis://127.0.0.1:${port}`;
    say(`Redis data in ${dir} (append-only file, fsync every second; kept on exit, delete the folder to start empty)`);
    this.redis = this.watch(
      new SupervisedProcess('redis', requireBinary('redis-server'), [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        ...redisDurabilityArgs(),
        '--dir',
        dir,
        '--pidfile',
        redisPidFile(dir),
        '--loglevel',
        'warning',
      ]),
      'vital',
    );
    await waitFor(() => this.ping(), `redis-server on port ${port}`, REDIS_START_TIMEOUT_MS, this.redis);
  }

  /** Says (does not refuse) when the Redis of REDIS_URL would lose or evict notifications. */
  private async checkDurability(): Promise<void> {
    const settings = await readRedisDurability(this.redisUrl);
    if (!settings) {
      say('could not read the durability settings of that Redis (CONFIG GET): make sure it runs with AOF and noeviction (docs/operations.md#redis-durability)');
      return;
    }
    for (const warning of durabilityWarnings(settings)) say(`warning: the Redis of REDIS_URL runs with ${warning} (docs/operations.md#redis-durability)`);
  }

  private async startGateways(): Promise<void> {
    const env: NodeJS.ProcessEnv = { ...process.env, HOST: '127.0.0.1', REDIS_URL: this.redisUrl };
    if (this.config.developmentSecret) {
      env['JWT_SECRET'] = DEVELOPMENT_JWT_SECRET;
      // The demo page's "get a dev token" (POST /dev/token): the gateways accept it only with this secret.
      env['DEV_TOKEN_ENDPOINT'] = 'true';
      say('');
      say('!!! JWT_SECRET is not set: the gateways accept tokens signed with the DEVELOPMENT secret');
      say(`!!!   "${DEVELOPMENT_JWT_SECRET}"`);
      say('!!! Never expose this cluster; set JWT_SECRET or JWT_PUBLIC_KEY for anything else.');
      say('');
    }
    this.config.gatewayPorts.forEach((port, index) => {
      const name = `gateway-${index + 1}`;
      this.gateways.push(
        this.watch(new SupervisedProcess(name, process.execPath, [GATEWAY_MAIN], { cwd: REPO_ROOT, env: { ...env, PORT: String(port), INSTANCE_ID: name } }), 'gateway'),
      );
    });
    await Promise.all(
      this.gateways.map((gateway, index) =>
        waitFor(() => httpOk(`http://127.0.0.1:${this.config.gatewayPorts[index]}/health/ready`), `${gateway.name} to be ready`, 30_000, gateway),
      ),
    );
  }

  private async startNginx(): Promise<void> {
    const prefix = join(this.workDir, 'nginx');
    mkdirSync(prefix);
    const { args, accessLogPath } = prepareLocalNginx({
      prefix,
      port: this.config.nginxPort,
      upstreams: this.config.gatewayPorts.map((port) => ({ host: '127.0.0.1', port })),
    });
    this.nginx = this.watch(new SupervisedProcess('nginx', requireBinary('nginx'), args), 'vital');
    await waitFor(() => httpOk(`${this.nginxUrl}/health/ready`), `nginx on port ${this.config.nginxPort}`, 10_000, this.nginx);
    say(`nginx access log: ${accessLogPath}`);
  }

  private async startPrometheus(): Promise<void> {
    if (!this.config.prometheus) return;
    const binary = findBinary('prometheus');
    if (!binary) {
      say('Prometheus is not installed: running without it (Debian: apt-get install prometheus)');
      return;
    }
    if (!existsSync(PROMETHEUS_CONFIG_PATH)) {
      say(`${PROMETHEUS_CONFIG_PATH} not found: running without Prometheus`);
      return;
    }
    // Same scrape jobs and rule files as the compose stack, pointed at the local instances.
    const targets = new Map(
      this.config.gatewayPorts.map((port, index) => [`${COMPOSE_GATEWAYS[index] ?? `gateway-${index + 1}`}:${COMPOSE_GATEWAY_PORT}`, `127.0.0.1:${port}`]),
    );
    const configPath = join(this.workDir, 'prometheus.yml');
    writeFileSync(configPath, localPrometheusConfig(readFileSync(PROMETHEUS_CONFIG_PATH, 'utf8'), PROMETHEUS_CONFIG_PATH, targets));
    this.prometheus = this.watch(
      new SupervisedProcess('prometheus', binary, [
        `--config.file=${configPath}`,
        `--storage.tsdb.path=${join(this.workDir, 'prometheus-data')}`,
        `--web.listen-address=127.0.0.1:${this.config.prometheusPort}`,
        '--log.level=warn',
      ]),
      'optional',
    );
    await waitFor(() => httpOk(`${this.prometheusUrl}/-/ready`), `Prometheus on port ${this.config.prometheusPort}`, 30_000, this.prometheus);
  }

  private get nginxUrl(): string {
    return `http://127.0.0.1:${this.config.nginxPort}`;
  }

  private get prometheusUrl(): string {
    return `http://127.0.0.1:${this.config.prometheusPort}`;
  }

  private async printSummary(): Promise<void> {
    const lines = [
      '',
      'Herald cluster is up:',
      `  Socket.IO (through nginx)  ${this.nginxUrl}${NOTIFICATIONS_NAMESPACE}   (path /socket.io/)`,
      `  health (through nginx)     ${this.nginxUrl}/health/live  ${this.nginxUrl}/health/ready`,
      `  demo inbox page            ${this.nginxUrl}/demo/   (${this.config.developmentSecret ? '"Get a dev token", or ' : ''}paste a token from npm run token)`,
      ...this.config.gatewayPorts.map((port, index) => `  gateway-${index + 1}                  http://127.0.0.1:${port}   (/metrics, /health/ready)`),
      `  Redis                      ${this.redisUrl}`,
      ...(this.redis ? [`  Redis data (AOF, kept)     ${this.config.redisDir}`] : []),
      this.prometheus ? `  Prometheus                 ${this.prometheusUrl}` : '  Prometheus                 not running',
    ];
    if (this.config.developmentSecret) {
      const token = await new SignJWT({})
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject('demo')
        .setIssuedAt()
        .setExpirationTime('24h')
        .sign(new TextEncoder().encode(DEVELOPMENT_JWT_SECRET));
      const command = encodeCommand(Patterns.NotifyUser, { userId: 'demo', type: 'hello', data: { text: 'hi' } });
      lines.push(
        '',
        'Try it (development secret):',
        `  token for user "demo" (24 h): ${token}`,
        `  notify: redis-cli -u ${this.redisUrl} PUBLISH ${Patterns.NotifyUser} '${command}'`,
      );
    }
    lines.push('', 'Ctrl-C stops everything.', '');
    for (const line of lines) say(line);
  }

  /** What an unexpected exit of this child means for the cluster. */
  private watch(child: SupervisedProcess, role: 'vital' | 'gateway' | 'optional'): SupervisedProcess {
    void child.exited.then(({ code, signal }) => {
      if (this.stopping) return;
      const how = signal ? `signal ${signal}` : `code ${code}`;
      if (role === 'gateway') {
        const left = this.gateways.filter((gateway) => gateway.running).length;
        say(`${child.name} exited (${how}); nginx sends its clients to the ${left} other instance(s)`);
        if (left > 0) return;
      } else if (role === 'optional') {
        say(`${child.name} exited (${how}); the cluster goes on without it`);
        return;
      } else {
        say(`${child.name} exited (${how}): stopping the cluster`);
      }
      void this.stop().then(() => this.exitListeners.forEach((listener) => listener(1)));
    });
    return child;
  }

  private async ping(): Promise<boolean> {
    return pingRedis(this.redisUrl);
  }
}

function say(line: string): void {
  process.stdout.write(`[herald] ${line}\n`);
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** Polls `condition` until it holds; fails early when the child it waits for has exited. */
async function waitFor(condition: () => Promise<boolean>, what: string, timeoutMs: number, child: SupervisedProcess): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!child.running) throw new ClusterStartError(`${child.name} exited while waiting for ${what} (see its log above)`);
    if (await condition()) return;
    if (Date.now() > deadline) throw new ClusterStartError(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(100);
  }
}
