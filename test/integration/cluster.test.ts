import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { Patterns } from '@herald/contracts';
import { LocalClusterProcess, RawPublisher, connectClient, descendantPids, isAlive, waitUntil, withTimeout, type TestClient } from '@herald/testing';

describe('npm start: the local cluster from local binaries', () => {
  let cluster: LocalClusterProcess;
  let children: number[] = [];
  const clients: TestClient[] = [];
  /** What before() started, stopped in reverse order: before() may fail part-way. */
  const started: Array<() => Promise<void>> = [];

  before(async () => {
    // No JWT_SECRET and no REDIS_URL: the cluster starts its own redis-server and uses the development secret.
    cluster = await LocalClusterProcess.start();
    started.push(() => cluster.process.stop(30_000));
    const pid = cluster.process.pid;
    assert.ok(pid !== undefined, 'the cluster process has no pid');
    children = descendantPids(pid);
  });

  after(async () => {
    for (const client of clients) client.close();
    for (const stop of started.reverse()) await stop();
  });

  it('prints the development secret loudly, and every URL', () => {
    assert.ok(cluster.printed(/!!! JWT_SECRET is not set/));
    assert.ok(cluster.printed(/herald-development-secret-change-me/));
    assert.ok(cluster.printed(new RegExp(`http://127\\.0\\.0\\.1:${cluster.nginxPort}/notifications`)));
    for (const port of cluster.gatewayPorts) assert.ok(cluster.printed(new RegExp(`http://127\\.0\\.0\\.1:${port}`)), `gateway on ${port}`);
    assert.match(cluster.redisUrl, /^redis:\/\/127\.0\.0\.1:\d+$/);
  });

  it('runs its own redis, three gateways and nginx, and delivers a notification to a client connected through nginx', async () => {
    assert.ok(existsSync(cluster.tempDir));
    for (const port of cluster.gatewayPorts) assert.equal((await fetch(`http://127.0.0.1:${port}/health/ready`)).status, 200);
    assert.equal((await fetch(`${cluster.nginxUrl}/health/ready`)).status, 200);
    assert.equal((await fetch(`${cluster.nginxUrl}/metrics`)).status, 403);

    const client = await connectClient(cluster.nginxUrl, cluster.demoToken);
    clients.push(client);
    const publisher = await RawPublisher.connect(cluster.redisUrl);
    try {
      assert.equal(await publisher.publish(Patterns.NotifyUser, { userId: 'demo', type: 'cluster-hello', data: { n: 1 } }), 3, 'three gateways subscribe');
      const [received] = await client.waitForType('cluster-hello');
      assert.deepEqual(received.data, { n: 1 });
    } finally {
      await publisher.close();
    }
  });

  it('runs Prometheus with the repository rules, scraping the three local instances (needs prometheus/ from the metrics feature)', async () => {
    let scraped: string[] = [];
    // Prometheus is ready before its scrape manager has picked up the static targets.
    await waitUntil(
      async () => {
        const targets = (await (await fetch(`${cluster.prometheusUrl}/api/v1/targets`)).json()) as { data: { activeTargets: Array<{ scrapeUrl: string }> } };
        scraped = targets.data.activeTargets.map((target) => target.scrapeUrl);
        return cluster.gatewayPorts.every((port) => scraped.includes(`http://127.0.0.1:${port}/metrics`));
      },
      'Prometheus to scrape the three local instances',
      15_000,
      200,
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; scraped: ${scraped.join(', ') || 'nothing'}\n${cluster.process.tail(20)}`);
    });
    const rules = (await (await fetch(`${cluster.prometheusUrl}/api/v1/rules`)).json()) as { data: { groups: unknown[] } };
    assert.ok(rules.data.groups.length > 0, 'no alert rules loaded');
  });

  it('SIGTERM stops every child process and removes its temporary files', async () => {
    const tempDir = cluster.tempDir;
    // redis, 3 gateways, nginx master + worker at least.
    assert.ok(children.length >= 6, `only ${children.length} descendants: ${children.join(', ')}`);
    assert.ok(children.every(isAlive));

    cluster.process.signal('SIGTERM');
    const exit = await withTimeout(cluster.process.exited, 'the cluster to exit', 40_000);
    assert.deepEqual(exit, { code: 0, signal: null });
    // Reparented zombies are reaped by init shortly after.
    await waitUntil(() => !children.some(isAlive), `no child left of ${children.join(', ')}`, 10_000);
    assert.equal(existsSync(tempDir), false, `${tempDir} is still there`);
    assert.ok(cluster.printed(/\[herald\] stopped/));
  });
});
