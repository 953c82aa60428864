import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ManagedProcess } from './child-process.js';
import { freePort } from './ports.js';
import { waitUntil } from './wait.js';

export interface PrometheusOptions {
  /** `host:port` of every instance to scrape. */
  targets: readonly string[];
  /** Same job name as prometheus/prometheus.yml, so the rules' `up{job=...}` selects these targets. */
  job?: string;
  /** Absolute paths of rule files to load and evaluate. */
  ruleFiles?: readonly string[];
  /** Scrape and rule evaluation interval; short so a test sees data within seconds. */
  intervalSeconds?: number;
}

export interface PrometheusTarget {
  labels: Record<string, string>;
  scrapeUrl: string;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

export interface PrometheusRule {
  name: string;
  query: string;
  health: 'ok' | 'err' | 'unknown';
  lastError?: string;
  lastEvaluation: string;
  type: 'alerting' | 'recording';
  state?: 'inactive' | 'pending' | 'firing';
}

export interface PrometheusAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing';
  value: string;
}

export interface VectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

export type QueryResult =
  | { resultType: 'vector'; result: VectorSample[] }
  | { resultType: 'scalar'; result: [number, string] }
  | { resultType: 'matrix'; result: Array<{ metric: Record<string, string>; values: Array<[number, string]> }> }
  | { resultType: 'string'; result: [number, string] };

interface ApiResponse<T> {
  status: 'success' | 'error';
  data?: T;
  errorType?: string;
  error?: string;
}

/** Prometheus' HTTP API at a base URL: a PrometheusProcess, or a Prometheus container (the compose test). */
export class PrometheusApi {
  constructor(readonly url: string) {}

  /** GET /api/v1/<path>; rejects with Prometheus' own error (e.g. a PromQL parse error) when it answers `error`. */
  async api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const query = new URLSearchParams(params).toString();
    const response = await fetch(`${this.url}/api/v1/${path}${query ? `?${query}` : ''}`);
    const body = (await response.json()) as ApiResponse<T>;
    if (body.status !== 'success' || body.data === undefined) {
      throw new Error(`prometheus ${path} ${JSON.stringify(params)}: ${body.errorType ?? response.status}: ${body.error ?? 'no data'}`);
    }
    return body.data;
  }

  /** An instant query, evaluated now. */
  async query(expr: string): Promise<QueryResult> {
    return this.api<QueryResult>('query', { query: expr });
  }

  /** An instant query expected to return a vector. */
  async vector(expr: string): Promise<VectorSample[]> {
    const result = await this.query(expr);
    if (result.resultType !== 'vector') throw new Error(`${expr} returned a ${result.resultType}, not a vector`);
    return result.result;
  }

  async activeTargets(): Promise<PrometheusTarget[]> {
    return (await this.api<{ activeTargets: PrometheusTarget[] }>('targets', { state: 'active' })).activeTargets;
  }

  async rules(): Promise<PrometheusRule[]> {
    const data = await this.api<{ groups: Array<{ name: string; rules: PrometheusRule[] }> }>('rules');
    return data.groups.flatMap((group) => group.rules);
  }

  async alerts(): Promise<PrometheusAlert[]> {
    return (await this.api<{ alerts: PrometheusAlert[] }>('alerts')).alerts;
  }

  /** Every metric name Prometheus holds series for. */
  async metricNames(): Promise<string[]> {
    return this.api<string[]>('label/__name__/values');
  }
}

/** A real Prometheus (Debian's `prometheus`) on a free loopback port, with a generated config and its own data directory. */
export class PrometheusProcess extends PrometheusApi {
  private constructor(
    private readonly process: ManagedProcess,
    private readonly directory: string,
    readonly port: number,
  ) {
    super(`http://127.0.0.1:${port}`);
  }

  static async start(options: PrometheusOptions): Promise<PrometheusProcess> {
    const port = await freePort();
    const directory = await mkdtemp(join(tmpdir(), 'herald-prometheus-'));
    const interval = `${options.intervalSeconds ?? 1}s`;
    const config = {
      global: { scrape_interval: interval, scrape_timeout: interval, evaluation_interval: interval },
      rule_files: [...(options.ruleFiles ?? [])],
      scrape_configs: [{ job_name: options.job ?? 'herald-gateway', metrics_path: '/metrics', static_configs: [{ targets: [...options.targets] }] }],
    };
    const configFile = join(directory, 'prometheus.yml');
    await writeFile(configFile, stringify(config));
    const child = new ManagedProcess(`prometheus:${port}`, 'prometheus', [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(directory, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ]);
    const prometheus = new PrometheusProcess(child, directory, port);
    try {
      await waitUntil(
        async () => {
          if (!child.running) throw new Error(`prometheus exited:\n${child.tail()}`);
          return (await fetch(`${prometheus.url}/-/ready`).catch(() => undefined))?.status === 200;
        },
        `prometheus on port ${port} to be ready`,
        30_000,
        100,
      );
    } catch (error) {
      await prometheus.stop();
      throw error;
    }
    return prometheus;
  }

  tail(count = 30): string {
    return this.process.tail(count);
  }

  async stop(): Promise<void> {
    await this.process.stop();
    await rm(this.directory, { recursive: true, force: true });
  }
}
