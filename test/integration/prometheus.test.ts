import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Patterns } from '@herald/contracts';
import {
  ALERTS_FILE,
  GatewayCluster,
  PrometheusProcess,
  RawPublisher,
  RedisServer,
  TestClient,
  connectClient,
  dashboardLabelValuesVariables,
  dashboardQueries,
  loadAlertRules,
  loadDashboard,
  metricNamesIn,
  resolveGrafanaVariables,
  signToken,
  waitUntil,
} from '@herald/testing';

const JOB = 'herald-gateway';
/** What Grafana sends for the dashboard's variables when "All" instances are selected. */
const GRAFANA_VARIABLES = { __rate_interval: '1m', instance: '.+' };

/** A real Prometheus scrapes a real 3-instance cluster, with the repository's alert rules loaded. */
describe('prometheus: scraping a 3-instance cluster', () => {
  let redis: RedisServer;
  let cluster: GatewayCluster;
  let prometheus: PrometheusProcess;
  let publisher: RawPublisher;
  const clients: TestClient[] = [];
  const perInstance = [2, 2, 1];
  /** What before() started, stopped in reverse order: before() may fail part-way. */
  const started: Array<() => Promise<void>> = [];

  before(async () => {
    redis = await RedisServer.start();
    started.push(() => redis.stop());
    cluster = await GatewayCluster.start(3, { redisUrl: redis.url });
    started.push(() => cluster.stop());
    prometheus = await PrometheusProcess.start({
      targets: cluster.instances.map((instance) => `127.0.0.1:${instance.port}`),
      job: JOB,
      ruleFiles: [ALERTS_FILE],
    });
    started.push(() => prometheus.stop());
    publisher = await RawPublisher.connect(redis.url);
    started.push(() => publisher.close());
    for (const [index, count] of perInstance.entries()) {
      for (let device = 0; device < count; device += 1) {
        clients.push(await connectClient(cluster.at(index).url, await signToken({ sub: `user-${index}-${device}` })));
      }
    }
    // Some traffic, so the latency buckets have moved when the expressions are evaluated.
    await publisher.publish(Patterns.NotifyBroadcast, { type: 'warm-up', data: null });
    await Promise.all(clients.map((client) => client.waitForType('warm-up')));
  });

  after(async () => {
    for (const client of clients) client.close();
    for (const stop of started.reverse()) await stop();
  });

  it('sees every instance up and sum(herald_connected_sockets) equal to the connected clients', async () => {
    await waitUntil(
      async () => {
        const targets = await prometheus.activeTargets();
        return targets.length === 3 && targets.every((target) => target.health === 'up');
      },
      'all 3 targets to be up in Prometheus',
      30_000,
      200,
    );
    const targets = await prometheus.activeTargets();
    assert.deepEqual(targets.map((target) => target.labels['instance']).sort(), cluster.instances.map((instance) => `127.0.0.1:${instance.port}`).sort());
    assert.deepEqual(
      targets.map((target) => target.labels['job']),
      [JOB, JOB, JOB],
    );

    const total = async (): Promise<number> => Number((await prometheus.vector('sum(herald_connected_sockets)'))[0]?.value[1] ?? NaN);
    await waitUntil(async () => (await total()) === clients.length, `sum(herald_connected_sockets) to reach ${clients.length}`, 30_000, 200);
    assert.equal(await total(), 5);

    const byInstance = await prometheus.vector('herald_connected_sockets');
    assert.deepEqual(
      Object.fromEntries(byInstance.map((sample) => [sample.metric['instance'], Number(sample.value[1])])),
      Object.fromEntries(cluster.instances.map((instance, index) => [`127.0.0.1:${instance.port}`, perInstance[index]])),
    );
  });

  it('evaluates every expression of the alert rules and the dashboard without error, over metrics that exist', async () => {
    // Rates need two samples per series: wait until the latency buckets have them.
    await waitUntil(
      async () => (await prometheus.vector('sum(rate(herald_delivery_latency_seconds_bucket[1m]))')).length > 0,
      'two scrapes of every instance',
      30_000,
      200,
    );
    const rules = loadAlertRules();
    const dashboard = loadDashboard();
    const expressions = [
      ...rules.map((rule) => ({ where: `alert ${rule.alert}`, expr: rule.expr })),
      ...dashboardQueries(dashboard).map((query) => ({ where: `panel "${query.panel}" ${query.refId}`, expr: resolveGrafanaVariables(query.expr, GRAFANA_VARIABLES) })),
      ...dashboardLabelValuesVariables(dashboard).map((variable) => ({ where: `variable ${variable.name}`, expr: variable.expr })),
    ];
    assert.ok(expressions.length > rules.length);

    const known = new Set(await prometheus.metricNames());
    for (const { where, expr } of expressions) {
      await assert.doesNotReject(prometheus.query(expr), `${where}: ${expr}`);
      for (const name of metricNamesIn(expr)) assert.ok(known.has(name), `${where} reads ${name}, which no instance exports`);
    }

    for (const variable of dashboardLabelValuesVariables(dashboard)) {
      const values = (await prometheus.vector(variable.expr)).map((sample) => sample.metric[variable.label]);
      assert.deepEqual(values.sort(), cluster.instances.map((instance) => `127.0.0.1:${instance.port}`).sort(), `variable ${variable.name}`);
    }

    // Prometheus evaluates the rules itself too: every one must have been evaluated without error.
    await waitUntil(async () => (await prometheus.rules()).every((rule) => Date.parse(rule.lastEvaluation) > 0), 'every rule to be evaluated', 30_000, 200);
    const evaluated = await prometheus.rules();
    assert.deepEqual(evaluated.map((rule) => rule.name).sort(), rules.map((rule) => rule.alert).sort());
    for (const rule of evaluated) assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError ?? ''}`);
  });

  it('turns a rejected command into a pending HeraldCommandsRejected for its pattern and reason', async () => {
    // Every target has been scraped (previous test), so the counter's step from 0 to 1 is inside the rate window.
    await publisher.publish(Patterns.NotifyUser, { type: 'no-user', data: null });
    const rejected = async () => (await prometheus.alerts()).filter((alert) => alert.labels['alertname'] === 'HeraldCommandsRejected');
    await waitUntil(async () => (await rejected()).length > 0, 'HeraldCommandsRejected to become pending', 30_000, 200);
    assert.deepEqual(
      (await rejected()).map((alert) => ({ state: alert.state, labels: alert.labels })),
      [{ state: 'pending', labels: { alertname: 'HeraldCommandsRejected', pattern: Patterns.NotifyUser, reason: 'invalid_shape', severity: 'warning' } }],
    );
  });

  it('raises HeraldInstanceDown for the instance that stops, and only for it', async () => {
    const victim = cluster.at(2);
    await victim.stop();
    const instance = `127.0.0.1:${victim.port}`;
    await waitUntil(
      async () => (await prometheus.alerts()).some((alert) => alert.labels['alertname'] === 'HeraldInstanceDown' && alert.labels['instance'] === instance),
      'HeraldInstanceDown to become pending for the stopped instance',
      30_000,
      200,
    );
    const down = (await prometheus.alerts()).filter((alert) => alert.labels['alertname'] === 'HeraldInstanceDown');
    assert.deepEqual(
      down.map((alert) => ({ state: alert.state, labels: alert.labels })),
      // Pending: it waits its `for: 1m` before firing.
      [{ state: 'pending', labels: { alertname: 'HeraldInstanceDown', instance, job: JOB, severity: 'critical' } }],
    );
  });
});
