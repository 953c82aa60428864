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
  stop(): Promise<void>;
}

/** The Redis every gateway of a topology shares. */
export interface RedisHandle {
  /** URL reachable from the test process; it stays the same across kill() and launch(). */
  readonly url: string;
  /** Kills Redis with no clean shutdown, like a crash. */
  kill(): Promise<void>;
  /** Starts it again after kill(), empty, at the same URL. */
  launch(): Promise<void>;
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
  /** Stops everything it started, also what a failed test left behind; safe to call twice. */
  stop(): Promise<void>;
}
