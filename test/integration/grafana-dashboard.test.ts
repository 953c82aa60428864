import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  GRAFANA_DASHBOARD_PROVIDER_FILE,
  GRAFANA_DATASOURCE_FILE,
  dashboardLabelValuesVariables,
  dashboardPanels,
  dashboardQueries,
  loadDashboard,
  readYaml,
} from '@herald/testing';

interface DatasourceProvisioning {
  apiVersion: number;
  datasources: Array<{ name: string; uid: string; type: string; url: string; access: string }>;
}
interface DashboardProvisioning {
  apiVersion: number;
  providers: Array<{ name: string; type: string; options: { path: string } }>;
}

/**
 * Grafana itself is not a Debian package, so these checks cover what Grafana would trip over: the provisioning
 * files' shape, panels wired to the provisioned datasource, and the panels ops asked for. The PromQL of every
 * panel is evaluated against a real Prometheus in prometheus.test.ts.
 */
describe('grafana: provisioning and the Herald dashboard', () => {
  const dashboard = loadDashboard();
  const datasources = readYaml<DatasourceProvisioning>(GRAFANA_DATASOURCE_FILE);
  const providers = readYaml<DashboardProvisioning>(GRAFANA_DASHBOARD_PROVIDER_FILE);

  it('provisions the Prometheus datasource of the compose stack and a file provider for the mounted dashboards', () => {
    assert.equal(datasources.apiVersion, 1);
    assert.deepEqual(
      datasources.datasources.map(({ type, url, access }) => ({ type, url, access })),
      [{ type: 'prometheus', url: 'http://prometheus:9090', access: 'proxy' }],
    );
    assert.equal(providers.apiVersion, 1);
    assert.deepEqual(
      providers.providers.map(({ type, options }) => ({ type, path: options.path })),
      [{ type: 'file', path: '/var/lib/grafana/dashboards' }],
    );
  });

  it('wires every panel, query and variable to the provisioned datasource', () => {
    const uid = datasources.datasources[0].uid;
    assert.ok(uid);
    const panels = dashboardPanels(dashboard).filter((panel) => panel.type !== 'row');
    assert.ok(panels.length > 0);
    for (const panel of panels) {
      assert.equal(panel.datasource?.uid, uid, `panel "${panel.title}"`);
      assert.ok((panel.targets ?? []).length > 0, `panel "${panel.title}" has no query`);
      for (const target of panel.targets ?? []) {
        assert.equal(target.datasource?.uid, uid, `panel "${panel.title}" ${target.refId}`);
        assert.ok(target.expr.trim().length > 0, `panel "${panel.title}" ${target.refId} is empty`);
      }
    }
    for (const variable of dashboard.templating.list) assert.equal(variable.datasource?.uid, uid, `variable ${variable.name}`);
  });

  it('has a stable uid, unique panel ids, unique refIds per panel and panels inside the 24-column grid', () => {
    assert.equal(dashboard.uid, 'herald-gateway');
    const panels = dashboardPanels(dashboard);
    assert.equal(new Set(panels.map((panel) => panel.id)).size, panels.length);
    for (const panel of panels) {
      const refIds = (panel.targets ?? []).map((target) => target.refId);
      assert.equal(new Set(refIds).size, refIds.length, `panel "${panel.title}"`);
      assert.ok(panel.gridPos.x >= 0 && panel.gridPos.w > 0 && panel.gridPos.x + panel.gridPos.w <= 24, `panel "${panel.title}" gridPos`);
    }
  });

  it('shows what ops asked for: connections per instance and total, deliveries/s, p50/p90/p99, rejections by reason, Redis per instance, event loop lag, memory, the route canary, ended sessions', () => {
    const queries = dashboardQueries(dashboard).map((query) => query.expr.replace(/\s+/g, ' '));
    const has = (what: string, predicate: (expr: string) => boolean): void => assert.ok(queries.some(predicate), `no query for ${what}`);
    has('connections per instance', (expr) => /sum by \(instance\) \(herald_connected_sockets\{/.test(expr));
    has('connections total', (expr) => /^sum\(herald_connected_sockets\{/.test(expr));
    has('deliveries per second', (expr) => /rate\(herald_notifications_delivered_total\{/.test(expr));
    for (const quantile of ['0.5', '0.9', '0.99']) {
      has(`latency p${quantile}`, (expr) => expr.startsWith(`histogram_quantile(${quantile}, `) && expr.includes('herald_delivery_latency_seconds_bucket'));
    }
    has('command rejections by reason', (expr) => /by \(pattern, reason\) \(rate\(herald_commands_rejected_total\{/.test(expr));
    has('handshake refusals by reason', (expr) => /by \(reason\) \(rate\(herald_connections_rejected_total\{/.test(expr));
    has('Redis status per instance', (expr) => /by \(instance, role\) \(herald_redis_connected\{/.test(expr));
    has('event loop lag per instance', (expr) => /by \(instance\) \(herald_nodejs_eventloop_lag_p99_seconds\{/.test(expr));
    has('memory per instance', (expr) => /by \(instance\) \(herald_process_resident_memory_bytes\{/.test(expr));
    has('route canary p99 per instance', (expr) =>
      expr.startsWith('histogram_quantile(0.99, sum by (instance, le) (rate(herald_route_canary_round_trip_seconds_bucket{'),
    );
    has('route canary failures by reason', (expr) => /by \(instance, reason\) \(rate\(herald_route_canary_failures_total\{/.test(expr));
    has('route subscriber reconnects', (expr) => /herald_route_subscriber_reconnects_total\{/.test(expr));
    has('sessions ended by reason (slow consumers...)', (expr) => /by \(reason\) \(rate\(herald_sessions_ended_total\{/.test(expr));
    // The inbox (issue 13): acks, reads, list requests, status queries, publish-to-acknowledged p99.
    has('client requests by event', (expr) => /by \(event\) \(rate\(herald_client_messages_received_total\{/.test(expr));
    has('refused client requests by code', (expr) => /by \(event, code\) \(rate\(herald_client_requests_refused_total\{/.test(expr));
    has('acknowledgements', (expr) => /rate\(herald_deliveries_acknowledged_total\{/.test(expr));
    has('status queries', (expr) => /rate\(herald_status_queries_total\{/.test(expr));
    has('publish-to-acknowledged p99', (expr) => expr.startsWith('histogram_quantile(0.99, ') && expr.includes('herald_publish_to_ack_seconds_bucket'));
  });

  it('offers an instance selector fed by the instances that export herald metrics', () => {
    assert.deepEqual(dashboardLabelValuesVariables(dashboard), [{ name: 'instance', expr: 'herald_connected_sockets', label: 'instance' }]);
    for (const query of dashboardQueries(dashboard).filter((candidate) => candidate.expr.includes('herald_'))) {
      const selectors = query.expr.match(/\bherald_[a-z0-9_]+\{[^}]*\}/g) ?? [];
      assert.ok(selectors.length > 0, `panel "${query.panel}" ${query.refId}: herald metrics without a selector`);
      for (const selector of selectors)
        assert.ok(selector.includes('instance=~"$instance"'), `panel "${query.panel}" ${query.refId}: ${selector} ignores the instance selector`);
    }
  });
});
