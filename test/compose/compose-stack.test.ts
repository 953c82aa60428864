import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Patterns } from '@herald/contracts';
import { COMPOSE_GATEWAYS, COMPOSE_GATEWAY_PORT, COMPOSE_NGINX_OPTIONS, COMPOSE_NGINX_PORT } from '@herald/edge-config';
import {
  ComposeStack,
  MetricsSnapshot,
  ResumingDevice,
  PrometheusApi,
  composeProjectName,
  composeStackEnv,
  connectClient,
  loadAlertRules,
  signToken,
  topologyConfig,
  waitUntil,
  type TestClient,
} from '@herald/testing';

// `docker compose up` of docker-compose.yml for real, as ops run it, on the images of this machine
// (`npm run test:compose`; CI leaves Grafana out: docker/compose.without-grafana.yml). Every published port is
// the compose file's own, on 127.0.0.1.
const NGINX_URL = `http://127.0.0.1:${COMPOSE_NGINX_PORT}`;
const PROMETHEUS_URL = 'http://127.0.0.1:9090';
const JOB = 'herald-gateway';
const SERVICES = ['redis', ...COMPOSE_GATEWAYS, 'nginx', 'prometheus'];
/** Each gateway's own published port (docker-compose.yml). */
const GATEWAY_URLS = new Map<string, string>(COMPOSE_GATEWAYS.map((name, index) => [name, `http://127.0.0.1:${3001 + index}`]));
const NETWORK = 'herald';
const DEVICES = 20;

async function socketsOn(gateway: string): Promise<number> {
  const snapshot = await MetricsSnapshot.scrape(GATEWAY_URLS.get(gateway) ?? '');
  return snapshot.value('herald_connected_sockets');
}

describe('docker compose up: the stack ops run, on a real engine', () => {
  const config = topologyConfig();
  let stack: ComposeStack | undefined;
  const clients: TestClient[] = [];
  const upStack = (): ComposeStack => {
    assert.ok(stack, 'the stack did not come up');
    return stack;
  };

  before(async () => {
    stack = await ComposeStack.up({
      projectName: composeProjectName(config.HERALD_TEST_RUN_ID),
      files: ['docker-compose.yml', 'docker/compose.without-grafana.yml'],
      env: composeStackEnv(config),
    });
  });

  after(async () => {
    for (const client of clients) client.close();
    await stack?.down();
  });

  it('runs redis, three gateways, nginx and prometheus, each healthy by its own health check; no grafana', async () => {
    assert.deepEqual((await upStack().runningServices()).sort(), [...SERVICES].sort());
    for (const service of SERVICES) assert.equal(await upStack().health(service), 'healthy', service);
  });

  it('redis persists: AOF fsynced every second, noeviction (docs/operations.md#redis-durability)', async () => {
    const result = await upStack().container('redis').exec(['redis-cli', 'CONFIG', 'GET', 'appendonly', 'appendfsync', 'maxmemory-policy']);
    assert.equal(result.exitCode, 0, result.output);
    const [appendonly, appendfsync, policy] = ['appendonly', 'appendfsync', 'maxmemory-policy'].map((name) => {
      const lines = result.stdout.trim().split('\n');
      return lines[lines.indexOf(name) + 1];
    });
    assert.deepEqual({ appendonly, appendfsync, policy }, { appendonly: 'yes', appendfsync: 'everysec', policy: 'noeviction' });
  });

  it('a client connected through nginx on 8080 receives a command published to the compose Redis exactly once', async () => {
    const token = async (sub: string): Promise<string> => signToken({ sub });
    const phone = await connectClient(NGINX_URL, await token('compose-user'));
    const laptop = await connectClient(NGINX_URL, await token('compose-user'));
    const other = await connectClient(NGINX_URL, await token('someone-else'));
    clients.push(phone, laptop, other);

    const receivers = await upStack().publish(Patterns.NotifyUser, { userId: 'compose-user', type: 'from-compose', data: { n: 1 } });
    assert.equal(receivers, COMPOSE_GATEWAYS.length, 'every gateway subscribes to notify.user once');
    // Commands are handled in order: once the barrier is in, the first command was handled everywhere.
    await upStack().publish(Patterns.NotifyBroadcast, { type: 'barrier', data: null });
    await Promise.all([phone, laptop, other].map((client) => client.waitForType('barrier', 1, 20_000)));

    assert.equal(phone.ofType('from-compose').length, 1);
    assert.equal(laptop.ofType('from-compose').length, 1);
    assert.equal(phone.ofType('from-compose')[0].id, laptop.ofType('from-compose')[0].id);
    assert.deepEqual(phone.ofType('from-compose')[0].data, { n: 1 });
    assert.equal(other.ofType('from-compose').length, 0);
  });

  it('Prometheus reports every gateway target up and has loaded the alert rules', async () => {
    const prometheus = new PrometheusApi(PROMETHEUS_URL);
    const expectedTargets = COMPOSE_GATEWAYS.map((host) => `${host}:${COMPOSE_GATEWAY_PORT}`).sort();
    // prometheus/prometheus.yml scrapes every 15 s.
    await waitUntil(
      async () => {
        const targets = (await prometheus.activeTargets()).filter((target) => target.labels['job'] === JOB);
        return targets.length === expectedTargets.length && targets.every((target) => target.health === 'up');
      },
      'every gateway target to be up in Prometheus',
      90_000,
      1000,
    );
    const targets = (await prometheus.activeTargets()).filter((target) => target.labels['job'] === JOB);
    assert.deepEqual(targets.map((target) => target.labels['instance']).sort(), expectedTargets);

    const rules = await prometheus.rules();
    assert.deepEqual(
      rules
        .filter((rule) => rule.type === 'alerting')
        .map((rule) => rule.name)
        .sort(),
      loadAlertRules()
        .map((rule) => rule.alert)
        .sort(),
    );
    const up = await prometheus.vector(`up{job="${JOB}"}`);
    assert.deepEqual(
      up.map((sample) => Number(sample.value[1])),
      [1, 1, 1],
    );
  });

  it('a gateway recreated on a new address: its devices reconnect through nginx at once, then reach it again (nginx re-resolves)', async () => {
    const stack = upStack();
    const { resolver } = COMPOSE_NGINX_OPTIONS;
    assert.ok(resolver);
    // The configuration nginx runs with resolves through Docker's DNS, answers kept a few seconds.
    const running = await stack.container('nginx').exec(['nginx', '-T']);
    assert.equal(running.exitCode, 0, running.output);
    assert.match(running.output, new RegExp(`resolver ${resolver.address.replace(/\./g, '\\.')} valid=${resolver.validSeconds}s`));

    // nginx sees every client of this machine from one address, so all devices stick to one gateway: that one is recreated.
    const devices = await Promise.all(Array.from({ length: DEVICES }, (_, n) => ResumingDevice.connect(NGINX_URL, `recreate-${n}`)));
    try {
      const counts = await Promise.all(COMPOSE_GATEWAYS.map(socketsOn));
      const target = COMPOSE_GATEWAYS[counts.indexOf(Math.max(...counts))];
      assert.ok((await socketsOn(target)) >= DEVICES, `every device on one gateway: ${JSON.stringify(counts)}`);
      const oldAddress = await stack.address(target, NETWORK);

      // `docker compose rm --stop`: SIGTERM (drain), then the container is gone; its address goes to a container
      // that listens on nothing, so the recreated gateway must come back elsewhere.
      const stoppedAt = performance.now();
      await stack.compose(['rm', '--stop', '--force', target]);
      const holder = await stack.occupyAddress(NETWORK, oldAddress, topologyConfig().REDIS_IMAGE);
      try {
        await waitUntil(() => devices.every((device) => device.connected && device.connections >= 2), 'every device back (on the other gateways)', 20_000, 100);
        const backAfterSeconds = (performance.now() - stoppedAt) / 1000;

        await stack.compose(['up', '--detach', '--no-deps', '--wait', target]);
        const newAddress = await stack.address(target, NETWORK);
        assert.notEqual(newAddress, oldAddress);
        assert.equal(await socketsOn(target), 0);

        // The devices reconnect (as after a network change): nginx, sticky by client address, sends them to the
        // recreated gateway at its new address once its DNS answer expired; with addresses resolved once, at start,
        // they would end on another gateway every time (the old address refuses, failover).
        await waitUntil(
          async () => {
            const connections = devices.map((device) => device.connections);
            for (const device of devices) device.dropTransport();
            await waitUntil(() => devices.every((device, n) => device.connected && device.connections > connections[n]), 'every device reconnected', 20_000, 50);
            return (await socketsOn(target)) >= DEVICES;
          },
          `every device reconnected to ${target} at ${newAddress}`,
          resolver.validSeconds * 1000 + 20_000,
          1000,
        );
        // No request was refused for want of an instance: nothing was ever marked down.
        assert.doesNotMatch(await stack.logs('nginx'), /no live upstreams/);
        process.stderr.write(`[compose] ${target} ${oldAddress} -> ${newAddress}: ${DEVICES} devices back on other gateways after ${backAfterSeconds.toFixed(1)} s\n`);
      } finally {
        await holder.release();
      }
    } finally {
      for (const device of devices) device.close();
    }
  });

  it('compose down removes every container and network of the project', async () => {
    // Clients first: nginx stops gracefully (SIGQUIT), waiting for open WebSockets until compose's 10 s timeout.
    for (const client of clients) client.close();
    await upStack().down();
    assert.deepEqual(await upStack().leftovers(), { containers: [], networks: [] });
  });
});
