import assert from 'node:assert/strict';
import { afterEach, describe, it, mock } from 'node:test';
import { ClientErrorKinds, CommandRejectReasons, ConnectRefusalReasons, DisconnectReasonLabels, NOTIFY_PATTERNS, Patterns, RedisClientRoles } from '@herald/contracts';
import type { MetricObjectWithValues, MetricValue, MetricValueWithName } from 'prom-client';
import { DELIVERY_LATENCY_BUCKETS, HeraldMetrics } from './herald-metrics.js';
import { disconnectReasonLabel, engineErrorKind } from './label-maps.js';

type Family = MetricObjectWithValues<MetricValue<string> | MetricValueWithName<string>>;

async function families(metrics: HeraldMetrics): Promise<Map<string, Family>> {
  const json = (await metrics.registry.getMetricsAsJSON()) as Family[];
  return new Map(json.map((family) => [family.name, family]));
}

/** The value of the sample called `name` (a `_bucket`/`_count`/`_sum` for histograms) with exactly these labels. */
async function value(metrics: HeraldMetrics, name: string, labels: Record<string, string | number> = {}): Promise<number | undefined> {
  for (const family of (await families(metrics)).values()) {
    for (const sample of family.values) {
      const sampleName = ('metricName' in sample ? sample.metricName : undefined) ?? family.name;
      const sampleLabels = Object.entries(sample.labels);
      if (sampleName === name && sampleLabels.length === Object.keys(labels).length && sampleLabels.every(([key, actual]) => labels[key] === actual)) {
        return sample.value;
      }
    }
  }
  return undefined;
}

const metricsWithoutNodeDefaults = (): HeraldMetrics => new HeraldMetrics({ instanceId: 'unit', defaultMetrics: false });

describe('HeraldMetrics', () => {
  afterEach(() => mock.timers.reset());

  it('hands the hot-path tallies to every scrape exactly: nothing lost between scrapes, nothing counted twice', async () => {
    const metrics = metricsWithoutNodeDefaults();
    for (let i = 0; i < 3; i++) metrics.commandReceived(Patterns.NotifyUser);
    metrics.delivered(Patterns.NotifyUser, 2, Date.now());
    assert.equal(await value(metrics, 'herald_commands_received_total', { pattern: Patterns.NotifyUser }), 3);
    assert.equal(await value(metrics, 'herald_notifications_delivered_total', { pattern: Patterns.NotifyUser }), 2);
    assert.match(await metrics.exposition(), /herald_commands_received_total\{pattern="notify.user"\} 3\n/, 'the text exposition too');
    metrics.commandReceived(Patterns.NotifyUser);
    metrics.delivered(Patterns.NotifyUser, 5, Date.now());
    for (let scrape = 0; scrape < 2; scrape++) {
      assert.equal(await value(metrics, 'herald_commands_received_total', { pattern: Patterns.NotifyUser }), 4);
      assert.equal(await value(metrics, 'herald_notifications_delivered_total', { pattern: Patterns.NotifyUser }), 7);
    }
    assert.equal(await value(metrics, 'herald_commands_received_total', { pattern: Patterns.NotifyUsers }), 0);
  });

  it('creates every labelled series at 0 up front, so rates and alerts see zeros instead of nothing', async () => {
    const metrics = metricsWithoutNodeDefaults();
    for (const pattern of Object.values(Patterns)) {
      assert.equal(await value(metrics, 'herald_commands_received_total', { pattern }), 0);
      for (const reason of Object.values(CommandRejectReasons)) {
        assert.equal(await value(metrics, 'herald_commands_rejected_total', { pattern, reason }), 0, `${pattern}/${reason}`);
      }
    }
    for (const pattern of NOTIFY_PATTERNS) {
      assert.equal(await value(metrics, 'herald_notifications_delivered_total', { pattern }), 0);
      assert.equal(await value(metrics, 'herald_delivery_latency_seconds_count', { pattern }), 0);
    }
    for (const reason of Object.values(ConnectRefusalReasons)) assert.equal(await value(metrics, 'herald_connections_rejected_total', { reason }), 0);
    for (const reason of Object.values(DisconnectReasonLabels)) assert.equal(await value(metrics, 'herald_disconnections_total', { reason }), 0);
    for (const kind of Object.values(ClientErrorKinds)) assert.equal(await value(metrics, 'herald_client_errors_total', { kind }), 0);
    for (const role of Object.values(RedisClientRoles)) assert.equal(await value(metrics, 'herald_redis_connected', { role }), 0);
    assert.equal(await value(metrics, 'herald_client_messages_received_total', { event: 'unexpected' }), 0);
    assert.equal(await value(metrics, 'herald_instance_info', { instance_id: 'unit' }), 1);
  });

  it('counts with the right labels and nothing else', async () => {
    const metrics = metricsWithoutNodeDefaults();
    metrics.commandReceived(Patterns.NotifyUsers);
    metrics.commandRejected(Patterns.NotifyUsers, CommandRejectReasons.InvalidShape);
    metrics.connectionRejected(ConnectRefusalReasons.ExpiredToken);
    metrics.connectionAccepted();
    metrics.setRedisConnected(RedisClientRoles.TransportSub, true);
    assert.equal(await value(metrics, 'herald_commands_received_total', { pattern: Patterns.NotifyUsers }), 1);
    assert.equal(await value(metrics, 'herald_commands_received_total', { pattern: Patterns.NotifyUser }), 0);
    assert.equal(await value(metrics, 'herald_commands_rejected_total', { pattern: Patterns.NotifyUsers, reason: CommandRejectReasons.InvalidShape }), 1);
    assert.equal(await value(metrics, 'herald_commands_rejected_total', { pattern: Patterns.NotifyUsers, reason: CommandRejectReasons.NotJson }), 0);
    assert.equal(await value(metrics, 'herald_connections_rejected_total', { reason: ConnectRefusalReasons.ExpiredToken }), 1);
    assert.equal(await value(metrics, 'herald_connections_accepted_total'), 1);
    assert.equal(await value(metrics, 'herald_redis_connected', { role: RedisClientRoles.TransportSub }), 1);
    metrics.setRedisConnected(RedisClientRoles.TransportSub, false);
    assert.equal(await value(metrics, 'herald_redis_connected', { role: RedisClientRoles.TransportSub }), 0);
  });

  it('measures delivery latency in seconds from the given start, in 1 ms..10 s buckets, once per command that reached a socket', async () => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    const metrics = metricsWithoutNodeDefaults();
    metrics.delivered(Patterns.NotifyUser, 3, 1_000_000 - 1500);
    metrics.delivered(Patterns.NotifyUser, 0, 0); // reached nobody: no emit, nothing to time
    metrics.delivered(Patterns.NotifyBroadcast, 1, 1_000_000 + 60_000); // publisher clock ahead: 0, not negative

    assert.deepEqual((await families(metrics)).get('herald_delivery_latency_seconds')?.type, 'histogram');
    assert.equal(await value(metrics, 'herald_notifications_delivered_total', { pattern: Patterns.NotifyUser }), 3);
    assert.equal(await value(metrics, 'herald_delivery_latency_seconds_count', { pattern: Patterns.NotifyUser }), 1);
    assert.equal(await value(metrics, 'herald_delivery_latency_seconds_sum', { pattern: Patterns.NotifyUser }), 1.5);
    assert.equal(await value(metrics, 'herald_delivery_latency_seconds_bucket', { pattern: Patterns.NotifyUser, le: 1 }), 0);
    assert.equal(await value(metrics, 'herald_delivery_latency_seconds_bucket', { pattern: Patterns.NotifyUser, le: 2.5 }), 1);
    assert.equal(await value(metrics, 'herald_delivery_latency_seconds_sum', { pattern: Patterns.NotifyBroadcast }), 0);
    assert.equal(await value(metrics, 'herald_delivery_latency_seconds_bucket', { pattern: Patterns.NotifyBroadcast, le: 0.001 }), 1);

    const les = (await families(metrics))
      .get('herald_delivery_latency_seconds')
      ?.values.filter(
        (sample) => 'metricName' in sample && sample.metricName === 'herald_delivery_latency_seconds_bucket' && sample.labels['pattern'] === Patterns.NotifyUser,
      )
      .map((sample) => sample.labels['le']);
    assert.deepEqual(les, [...DELIVERY_LATENCY_BUCKETS, '+Inf']);
    assert.equal(DELIVERY_LATENCY_BUCKETS[0], 0.001);
    assert.equal(DELIVERY_LATENCY_BUCKETS.at(-1), 10);
  });

  it('reads herald_connected_sockets from its source at scrape time', async () => {
    const metrics = metricsWithoutNodeDefaults();
    assert.equal(await value(metrics, 'herald_connected_sockets'), 0);
    let sockets = 7;
    metrics.countConnectedSocketsWith(() => sockets);
    assert.equal(await value(metrics, 'herald_connected_sockets'), 7);
    sockets = 2;
    assert.equal(await value(metrics, 'herald_connected_sockets'), 2);
  });

  it("prefixes Node's default metrics with herald_ and exposes nothing without the prefix", async () => {
    const metrics = new HeraldMetrics({ instanceId: 'unit' });
    const names = [...(await families(metrics)).keys()];
    for (const expected of [
      'herald_nodejs_eventloop_lag_seconds',
      'herald_nodejs_eventloop_lag_p99_seconds',
      'herald_nodejs_heap_size_used_bytes',
      'herald_nodejs_gc_duration_seconds',
      'herald_process_cpu_seconds_total',
      'herald_process_resident_memory_bytes',
    ]) {
      assert.ok(names.includes(expected), `${expected} in ${names.join(', ')}`);
    }
    assert.deepEqual(
      names.filter((name) => !name.startsWith('herald_')),
      [],
    );
    const text = await metrics.exposition();
    assert.match(text, /^# TYPE herald_connected_sockets gauge$/m);
    assert.match(metrics.contentType, /^text\/plain; version=0\.0\.4/);
  });
});

describe('label maps', () => {
  it("maps every socket.io disconnect reason to snake_case and anything else to 'other'", () => {
    assert.equal(disconnectReasonLabel('ping timeout'), DisconnectReasonLabels.PingTimeout);
    assert.equal(disconnectReasonLabel('client namespace disconnect'), DisconnectReasonLabels.ClientNamespaceDisconnect);
    assert.equal(disconnectReasonLabel('server shutting down'), DisconnectReasonLabels.ServerShuttingDown);
    assert.equal(disconnectReasonLabel('a reason from a future socket.io'), DisconnectReasonLabels.Other);
    assert.equal(disconnectReasonLabel('constructor'), DisconnectReasonLabels.Other);
    assert.equal(disconnectReasonLabel(undefined), DisconnectReasonLabels.Other);
  });

  it("maps engine.io connection_error codes 0..5 to kinds and anything else to 'other'", () => {
    assert.deepEqual([0, 1, 2, 3, 4, 5].map(engineErrorKind), [
      ClientErrorKinds.TransportUnknown,
      ClientErrorKinds.SessionIdUnknown,
      ClientErrorKinds.BadHandshakeMethod,
      ClientErrorKinds.BadRequest,
      ClientErrorKinds.Forbidden,
      ClientErrorKinds.UnsupportedProtocolVersion,
    ]);
    for (const odd of [6, -1, 1.5, '0', undefined, null]) assert.equal(engineErrorKind(odd), ClientErrorKinds.Other, String(odd));
  });
});
