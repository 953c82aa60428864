import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { CLI_MAIN, GatewayCluster, RedisServer, TEST_JWT_SECRET, connectClient, type TestClient } from '@herald/testing';

const run = promisify(execFile);
const cli = (...args: string[]) => run(process.execPath, [CLI_MAIN, ...args], { env: { PATH: process.env['PATH'] ?? '', JWT_SECRET: TEST_JWT_SECRET } });

describe('the herald CLI (README quick start)', () => {
  let redis: RedisServer;
  let cluster: GatewayCluster;
  let client: TestClient | undefined;
  /** What before() started, stopped in reverse order: before() may fail part-way. */
  const started: Array<() => Promise<void>> = [];

  before(async () => {
    redis = await RedisServer.start();
    started.push(() => redis.stop());
    cluster = await GatewayCluster.start(2, { redisUrl: redis.url });
    started.push(() => cluster.stop());
  });

  after(async () => {
    client?.close();
    for (const stop of started.reverse()) await stop();
  });

  it('signs a token a gateway accepts, publishes a notification to it, and reports presence', async () => {
    const { stdout: token } = await cli('token', '--user', '42');
    client = await connectClient(cluster.at(0).url, token.trim());

    const { stdout: published } = await cli('notify', '--redis', redis.url, '--user', '42', '--type', 'hello', '--data', '{"text":"hi"}');
    const id = /^published (\S+)$/m.exec(published)?.[1];
    const [received] = await client.waitForType('hello');
    assert.deepEqual({ id: received.id, data: received.data }, { id, data: { text: 'hi' } });

    const { stdout: presence } = await cli('presence', '--redis', redis.url, '--user', '42');
    assert.deepEqual(JSON.parse(presence), { userId: '42', online: true, connections: 1 });
  });

  it('exits 2 with a usage message on bad input', async () => {
    await assert.rejects(
      cli('notify', '--user', '42', '--data', '{oops'),
      (error: { code?: number; stderr?: string }) => error.code === 2 && /--data must be JSON/.test(error.stderr ?? ''),
    );
  });
});
