import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { localPrometheusConfig } from './prometheus-config.js';

const COMPOSE_CONFIG = `
global:
  scrape_interval: 15s
rule_files:
  - alerts.yml
scrape_configs:
  - job_name: herald-gateway
    metrics_path: /metrics
    static_configs:
      - targets: [gateway-1:3000, gateway-2:3000, gateway-3:3000]
  - job_name: self
    static_configs:
      - targets: [localhost:9090]
`;

const LOCAL = new Map([
  ['gateway-1:3000', '127.0.0.1:4001'],
  ['gateway-2:3000', '127.0.0.1:4002'],
  ['gateway-3:3000', '127.0.0.1:4003'],
]);

describe('localPrometheusConfig', () => {
  it('points the gateway job at the local instances and keeps everything else', () => {
    const local = parse(localPrometheusConfig(COMPOSE_CONFIG, '/repo/prometheus/prometheus.yml', LOCAL)) as {
      global: unknown;
      rule_files: string[];
      scrape_configs: Array<{ job_name: string; metrics_path?: string; static_configs: Array<{ targets: string[] }> }>;
    };
    assert.deepEqual(local.scrape_configs[0].static_configs[0].targets, ['127.0.0.1:4001', '127.0.0.1:4002', '127.0.0.1:4003']);
    assert.equal(local.scrape_configs[0].job_name, 'herald-gateway');
    assert.equal(local.scrape_configs[0].metrics_path, '/metrics');
    assert.deepEqual(local.scrape_configs[1].static_configs[0].targets, ['localhost:9090']);
    assert.deepEqual(local.global, { scrape_interval: '15s' });
    assert.deepEqual(local.rule_files, ['/repo/prometheus/alerts.yml']);
  });

  it('refuses a file that is not a Prometheus config or scrapes none of the gateways', () => {
    assert.throws(() => localPrometheusConfig('just: text', '/x.yml', LOCAL), /no scrape_configs/);
    assert.throws(() => localPrometheusConfig('scrape_configs: [{job_name: a, static_configs: [{targets: [other:1]}]}]', '/x.yml', LOCAL), /scrapes none/);
  });
});
