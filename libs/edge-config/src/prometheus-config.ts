import { dirname, isAbsolute, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { REPO_ROOT } from './repo-root.js';

/** The compose stack's Prometheus config (static targets `gateway-N:3000`, rule file alerts.yml beside it). */
export const PROMETHEUS_CONFIG_PATH = join(REPO_ROOT, 'prometheus/prometheus.yml');

interface PrometheusConfig {
  rule_files?: string[];
  scrape_configs?: Array<{ static_configs?: Array<{ targets?: string[] }> }>;
}

/**
 * A Prometheus config for a local run, derived from the compose one so both scrape and alert alike: each target
 * found in `targets` (e.g. `gateway-1:3000` -> `127.0.0.1:3001`) is replaced, and rule files become absolute
 * paths next to the source file. Throws when the source is not a Prometheus config or names none of the targets.
 */
export function localPrometheusConfig(sourceText: string, sourcePath: string, targets: ReadonlyMap<string, string>): string {
  const config = parse(sourceText) as PrometheusConfig | null;
  if (!config || typeof config !== 'object' || !Array.isArray(config.scrape_configs)) {
    throw new Error(`${sourcePath} has no scrape_configs`);
  }
  let replaced = 0;
  for (const job of config.scrape_configs) {
    for (const staticConfig of job.static_configs ?? []) {
      staticConfig.targets = (staticConfig.targets ?? []).map((target) => {
        const local = targets.get(target);
        if (local === undefined) return target;
        replaced++;
        return local;
      });
    }
  }
  if (replaced === 0) throw new Error(`${sourcePath} scrapes none of ${[...targets.keys()].join(', ')}`);
  config.rule_files = (config.rule_files ?? []).map((file) => (isAbsolute(file) ? file : join(dirname(sourcePath), file)));
  return stringify(config);
}
