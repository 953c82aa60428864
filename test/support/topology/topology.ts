import type { NginxAccessRecord } from '../nginx-process.js';

/** Parsed JSON log record of a gateway (pino). */
export type LogRecord = Record<string, unknown>;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One gateway instance, whatever runs it (a local process or a container). Everything is seen from the test host. */
export interface GatewayHandle {
  readonly instanceId: string;
  /** Base URL reachable from the test process (`http://127.0.0.1:<port>`). */
  readonly url: string;
  health(kind: 'live' | 'ready'): Promise<{ status: number; body: unknown }>;
  isReady(): Promise<boolean>;
  waitReady(timeoutMs?: number): Promise<void>;
  /** Every JSON log record it wrote so far. */
  logs(): Promise<LogRecord[]>;
  logsWith(message: string): Promise<LogRecord[]>;
  /** The `connected` log record of a socket this instance accepted (gateways run with LOG_LEVEL debug). */
  connectionRecord(socketId: string): Promise<LogRecord | undefined>;
  isRunning(): Promise<boolean>;
  /** Changes whenever the instance is restarted (process id, or container id and start time). */
  incarnation(): Promise<string>;
  /** Delivers a signal to the gateway's Node process. */
  signal(signal: NodeJS.Signals): Promise<void>;
  /** Resolves when it has exited: a process' own exit code, or the container's exit status. */
  exited(): Promise<ExitStatus>;
  /** SIGKILL, like a crash, and waits for the exit. */
  kill(): Promise<void>;
  /**
   * Graceful restart: SIGTERM (the gateway drains: its clients are told to reconnect), waits for exit 0, then starts
   * the same gateway again (same instance id, environment and URL, so nginx's upstream still points at it) and waits
   * until it is ready. A process is a new process on the same port; a container is the same container, stopped and
   * started again. Logs of earlier incarnations stay in logs().
   */
  restart(): Promise<void>;
  /** Starts the gateway again after kill() or an exit, as restart() does, and waits until it is ready. */
  launch(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The Redis every gateway of a topology shares. It runs as Herald's Redis must (docs/operations.md): AOF on
 * (`appendonly yes`, `appendfsync everysec`), no RDB snapshots, `maxmemory-policy noeviction`.
 */
export interface RedisHandle {
  /** URL reachable from the test process; it stays the same across kill(), launch() and restart(). */
  readonly url: string;
  /** Kills Redis with no clean shutdown (SIGKILL), like a crash: writes not yet fsynced to the AOF (about the last second) are lost. */
  kill(): Promise<void>;
  /** Starts it again after kill(), at the same URL. It reloads its AOF: what was fsynced before the crash is still there. */
  launch(): Promise<void>;
  /**
   * Graceful restart that keeps all data: SIGTERM (Redis fsyncs its AOF and exits), then starts again at the same URL.
   * `whileDown` runs after the exit and before the start: what a test does while Redis is away.
   */
  restart(options?: RedisRestartOptions): Promise<void>;
}

export interface RedisRestartOptions {
  whileDown?: () => Promise<void>;
}

/** nginx rendered from nginx/nginx.conf.template in front of every gateway the topology started with. */
export interface NginxHandle {
  readonly url: string;
  readonly port: number;
  /** The address the gateways see as the TCP peer of every request nginx proxies. */
  readonly addressSeenByGateways: string;
  accessLog(): Promise<NginxAccessRecord[]>;
  /** nginx's own warnings and errors. */
  errors(): Promise<string[]>;
}

export interface GatewaySpec {
  /** Environment on top of the topology's defaults (Redis URL, test JWT secret, LOG_LEVEL debug...). */
  env?: Record<string, string>;
  instanceId?: string;
}

export interface TopologyOptions {
  /** Gateways to start with, in parallel: a count, or one spec each (default 1). More can be added with addGateway(). */
  gateways?: number | readonly GatewaySpec[];
  /** Environment for every gateway. */
  gatewayEnv?: Record<string, string>;
  /** nginx in front of the initial gateways. */
  nginx?: boolean;
}

export type TopologyKind = 'processes' | 'containers';

/**
 * A running Herald: one Redis, N gateway instances, optionally nginx in front. Scenario tests are written
 * against this, so the same files run on local processes (`npm test`) and on Docker containers
 * (`npm run test:containers`); see docs/testing.md.
 */
export interface Topology {
  readonly kind: TopologyKind;
  readonly redis: RedisHandle;
  readonly gateways: readonly GatewayHandle[];
  /** Present when started with `nginx: true`. */
  readonly nginx: NginxHandle | undefined;
  addGateway(spec?: GatewaySpec): Promise<GatewayHandle>;
  /** The i-th gateway, round robin: tests spread devices over instances with it. */
  at(index: number): GatewayHandle;
  /** The gateway that accepted the socket with this id (from its `connected` log record). */
  instanceOf(socketId: string, timeoutMs?: number): Promise<GatewayHandle>;
  /** Graceful restart of the i-th gateway on the same URL: `at(index).restart()`. */
  restartGateway(index: number): Promise<void>;
  /** SIGKILL of the i-th gateway, like a crash: `at(index).kill()`. */
  killGateway(index: number): Promise<void>;
  /** Starts the i-th gateway again after killGateway(), on the same URL: `at(index).launch()`. */
  launchGateway(index: number): Promise<void>;
  /** Stops everything it started, also what a failed test left behind; safe to call twice. */
  stop(): Promise<void>;
}
