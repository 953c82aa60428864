import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { REPO_ROOT } from './paths.js';

/** The files ops deploy; tests read them from the repository rather than repeat what they say. */
export const PROMETHEUS_DIR = resolve(REPO_ROOT, 'prometheus');
export const ALERTS_FILE = resolve(PROMETHEUS_DIR, 'alerts.yml');
export const PROMETHEUS_CONFIG_FILE = resolve(PROMETHEUS_DIR, 'prometheus.yml');
export const ALERT_TESTS_DIR = resolve(PROMETHEUS_DIR, 'tests');
export const GRAFANA_DIR = resolve(REPO_ROOT, 'grafana');
export const DASHBOARD_FILE = resolve(GRAFANA_DIR, 'dashboards/herald.json');
export const GRAFANA_DATASOURCE_FILE = resolve(GRAFANA_DIR, 'provisioning/datasources/prometheus.yml');
export const GRAFANA_DASHBOARD_PROVIDER_FILE = resolve(GRAFANA_DIR, 'provisioning/dashboards/herald.yml');

export interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

interface RuleFile {
  groups: Array<{ name: string; rules: AlertRule[] }>;
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape it expects of the file
export function readYaml<T>(file: string): T {
  return parse(readFileSync(file, 'utf8')) as T;
}

export function loadAlertRules(file = ALERTS_FILE): AlertRule[] {
  return readYaml<RuleFile>(file).groups.flatMap((group) => group.rules);
}

export interface DashboardTarget {
  refId: string;
  expr: string;
  datasource?: { type: string; uid: string };
}

export interface DashboardPanel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: DashboardTarget[];
  panels?: DashboardPanel[];
}

export interface DashboardVariable {
  name: string;
  type: string;
  datasource?: { type: string; uid: string };
  query?: { query: string } | string;
  allValue?: string;
}

export interface Dashboard {
  uid: string;
  title: string;
  panels: DashboardPanel[];
  templating: { list: DashboardVariable[] };
}

export function loadDashboard(file = DASHBOARD_FILE): Dashboard {
  return JSON.parse(readFileSync(file, 'utf8')) as Dashboard;
}

/** Every panel, including those nested in collapsed rows. */
export function dashboardPanels(dashboard: Dashboard): DashboardPanel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

export interface DashboardQuery {
  panel: string;
  refId: string;
  expr: string;
}

export function dashboardQueries(dashboard: Dashboard): DashboardQuery[] {
  return dashboardPanels(dashboard).flatMap((panel) => (panel.targets ?? []).map((target) => ({ panel: panel.title, refId: target.refId, expr: target.expr })));
}

/** `label_values(<expr>, <label>)` variables: Grafana evaluates `<expr>` and offers the values of `<label>`. */
export function dashboardLabelValuesVariables(dashboard: Dashboard): Array<{ name: string; expr: string; label: string }> {
  return dashboard.templating.list.map((variable) => {
    const query = typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? '');
    const match = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$/.exec(query.trim());
    if (!match) throw new Error(`dashboard variable ${variable.name}: only label_values(expr, label) queries are supported, got "${query}"`);
    return { name: variable.name, expr: match[1], label: match[2] };
  });
}

/**
 * What Grafana substitutes before sending a query: `$__rate_interval` and the dashboard's variables
 * (`$instance` as its "All" value). Any `$variable` left over is an error: the test would not know what Grafana sends.
 */
export function resolveGrafanaVariables(expr: string, variables: Partial<Record<string, string>>): string {
  const resolved = expr.replace(/\$(__[a-z_]+|[a-zA-Z_][a-zA-Z0-9_]*)/g, (whole, name: string) => {
    const value = variables[name];
    if (value === undefined) throw new Error(`no value for Grafana variable ${whole} in: ${expr}`);
    return value;
  });
  return resolved;
}

/** Metric names a PromQL expression reads: every `herald_*` identifier, and `up`. */
export function metricNamesIn(expr: string): string[] {
  const names = new Set(expr.match(/\bherald_[a-z0-9_]+\b/g) ?? []);
  if (/\bup\s*\{/.test(expr)) names.add('up');
  return [...names];
}
