import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Patterns } from '@herald/contracts';
import { LocalClusterProcess, RawPublisher, connectClient, descendantPids, isAlive, waitUntil, withTimeout, type TestClient, present } from '@herald/testing';
import { createClient, type RedisClientType } from 'redis';

/** A real client to the cluster's Redis, for one use. */
async function withRedis<T>(url: string, use: (client: RedisClientType) => Promise<T>): Promise<T> {
  const client: RedisClientType = createClient({ url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.close();
  }
}

const configGet = (url: string, name: string): Promise<string | undefined> => withRedis(url, async (client) => (await client.configGet(name))[name]);

const MARKER_KEY = 'herald-test:cluster-durability';

describe('npm start: the local cluster from local binaries', () => {
  let cluster: LocalClusterProcess;
  let restarted: LocalClusterProcess | undefined;
  let children: number[] = [];
  const clients: TestClient[] = [];
  // Its own data folder, not the developer's .tmp/cluster/redis (which a running `npm start` may be using).
  const redisDir = mkdtempSync(join(tmpdir(), 'herald-cluster-redis-'));

  before(async () => {
    // No JWT_SECRET and no REDIS_URL: the cluster starts its own redis-server and uses the development secret.
    cluster = await LocalClusterProcess.start({ HERALD_REDIS_DIR: redisDir });
    children = descendantPids(present(cluster.process.pid, 'the cluster pid'));
  });

  after(async () => {
    for (const client of clients) client.close();
    // before() may have failed before either started: the array's type says so.
    for (const started of [cluster, restarted] as Array<LocalClusterProcess | undefined>) await started?.process.stop(30_000);
    rmSync(redisDir, { recursive: true, force: true });
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

  it('runs its redis durably: AOF fsynced every second, noeviction, data in HERALD_REDIS_DIR, one cluster per data folder', async () => {
    assert.equal(await configGet(cluster.redisUrl, 'appendonly'), 'yes');
    assert.equal(await configGet(cluster.redisUrl, 'appendfsync'), 'everysec');
    assert.equal(await configGet(cluster.redisUrl, 'maxmemory-policy'), 'noeviction');
    assert.equal(await configGet(cluster.redisUrl, 'dir'), realpathSync(redisDir));
    assert.ok(existsSync(join(redisDir, 'appendonlydir')), 'no appendonlydir in the data folder');
    assert.ok(cluster.printed(new RegExp(`Redis data .*${redisDir}`)));
    await withRedis(cluster.redisUrl, (client) => client.set(MARKER_KEY, 'kept'));

    // Two redis-servers appending to one file would corrupt it: a second cluster on the same folder refuses to start.
    await assert.rejects(LocalClusterProcess.start({ HERALD_REDIS_DIR: redisDir, HERALD_PROMETHEUS: '0' }, 30_000), /still uses/);
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

  it('SIGTERM stops every child process and removes its temporary files, but keeps the Redis data folder', async () => {
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
    assert.ok(existsSync(join(redisDir, 'appendonlydir')), 'the append-only file is gone');
    assert.equal(existsSync(join(redisDir, 'redis.pid')), false, 'redis did not shut down cleanly (pid file left)');
  });

  it('a restarted cluster on the same data folder still has what its Redis held', async () => {
    restarted = await LocalClusterProcess.start({ HERALD_REDIS_DIR: redisDir, HERALD_PROMETHEUS: '0' });
    assert.equal(await withRedis(restarted.redisUrl, (client) => client.get(MARKER_KEY)), 'kept');
    restarted.process.signal('SIGTERM');
    assert.deepEqual(await withTimeout(restarted.process.exited, 'the restarted cluster to exit', 40_000), { code: 0, signal: null });
  });
});
