import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { Patterns } from '@herald/contracts';
import {
  RawPublisher,
  TestClient,
  connectClient,
  fromAddress,
  signToken,
  startTopology,
  waitUntil,
  type ClientOptions,
  type GatewayHandle,
  type NginxHandle,
  type Topology,
  present,
} from '@herald/testing';

/** The n-th test client address: nginx hashes on it, so different addresses spread over the instances. */
const address = (n: number): string => `127.0.0.${n + 2}`;

/** A raw HTTP request to nginx: fetch() would normalise `..` in the path before sending it. */
async function rawGet(port: number, path: string): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

interface EdgeStack {
  topology: Topology;
  nginx: NginxHandle;
  publisher: RawPublisher;
  clients: TestClient[];
}

async function startStack(): Promise<EdgeStack> {
  const topology = await startTopology({ gateways: 3, nginx: true });
  try {
    return { topology, nginx: present(topology.nginx, 'nginx'), publisher: await RawPublisher.connect(topology.redis.url), clients: [] };
  } catch (error) {
    // Whatever did start must not outlive the failed setup (it would keep the test process alive).
    await topology.stop();
    throw error;
  }
}

async function stopStack(stack: EdgeStack | undefined): Promise<void> {
  for (const client of stack?.clients ?? []) client.close();
  await stack?.publisher.close();
  await stack?.topology.stop();
}

interface Placed {
  client: TestClient;
  user: string;
  from: string;
  instance: GatewayHandle;
}

/** Connects one device of `user` through nginx from a given loopback address and finds the instance it landed on. */
async function deviceThroughNginx(stack: EdgeStack, user: string, from: string, options: ClientOptions = {}): Promise<Placed> {
  const client = await connectClient(stack.nginx.url, await signToken({ sub: user }), { ...fromAddress(from), ...options });
  stack.clients.push(client);
  const instance = await stack.topology.instanceOf(present(client.socket.id, 'socket id'));
  return { client, user, from, instance };
}

/** Sends a barrier to each user and waits until every listed device got it: earlier commands have been handled. */
async function barrier(stack: EdgeStack, tag: string, devices: readonly Placed[]): Promise<void> {
  for (const user of new Set(devices.map((device) => device.user))) {
    await stack.publisher.publish(Patterns.NotifyUser, { userId: user, type: `barrier-${tag}`, data: null });
  }
  await Promise.all(devices.map((device) => device.client.waitForType(`barrier-${tag}`, 1, 20_000)));
}

describe('behind nginx: 3 instances, sticky by client address', () => {
  let stack: EdgeStack;

  before(async () => {
    stack = await startStack();
  });

  after(async () => {
    await stopStack(stack);
  });

  it('WebSocket clients spread over the instances get each notification exactly once, and the gateway logs their real address', async () => {
    const devices: Placed[] = [];
    for (let n = 0; n < 18; n++) devices.push(await deviceThroughNginx(stack, `ws-user-${n % 6}`, address(n)));

    const used = new Set(devices.map((device) => device.instance.instanceId));
    assert.ok(used.size >= 2, `18 client addresses all hashed to one instance: ${[...used].join(', ')}`);
    for (const device of devices) assert.equal(device.client.transport, 'websocket');

    for (let u = 0; u < 6; u++) {
      await stack.publisher.publish(Patterns.NotifyUser, { userId: `ws-user-${u}`, type: 'edge-ws', data: { u } });
    }
    await stack.publisher.publish(Patterns.NotifyBroadcast, { type: 'edge-ws-all', data: null });
    await barrier(stack, 'ws', devices);
    await Promise.all(devices.map((device) => device.client.waitForType('edge-ws-all')));
    for (const device of devices) {
      assert.equal(device.client.ofType('edge-ws').length, 1, `${device.user} from ${device.from}`);
      assert.deepEqual(device.client.ofType('edge-ws')[0].data, { u: Number(device.user.split('-').at(-1)) });
      assert.equal(device.client.ofType('edge-ws-all').length, 1, `broadcast to ${device.from}`);
    }

    // The TCP peer of every instance is nginx; the address logged is the client's, from X-Forwarded-For.
    for (const device of devices) {
      const record = present(await device.instance.connectionRecord(present(device.client.socket.id, 'socket id')), 'the connected record');
      assert.equal(record['address'], device.from);
      assert.equal(record['peer'], stack.nginx.addressSeenByGateways);
    }
  });

  it('long-polling-only clients work through nginx: every request of a session reaches its instance (no "Session ID unknown")', async () => {
    const devices: Placed[] = [];
    for (let n = 0; n < 9; n++) devices.push(await deviceThroughNginx(stack, `poll-user-${n % 3}`, address(40 + n), { transports: ['polling'] }));
    assert.ok(new Set(devices.map((device) => device.instance.instanceId)).size >= 2, 'polling clients all hashed to one instance');

    // Several rounds: each one is a fresh poll request and POSTs that must land on the session's instance.
    for (let round = 0; round < 5; round++) {
      for (let u = 0; u < 3; u++) {
        await stack.publisher.publish(Patterns.NotifyUser, { userId: `poll-user-${u}`, type: `poll-${round}`, data: { round } });
      }
      await Promise.all(devices.map((device) => device.client.waitForType(`poll-${round}`, 1, 20_000)));
    }
    for (const device of devices) {
      assert.equal(device.client.transport, 'polling');
      for (let round = 0; round < 5; round++) assert.equal(device.client.ofType(`poll-${round}`).length, 1);
      assert.deepEqual(device.client.disconnects, []);
      assert.deepEqual(device.client.transportErrors, []);
    }
    const refused = (await stack.nginx.accessLog()).filter((record) => record.request.includes('transport=polling') && record.status !== '200');
    assert.deepEqual(refused, [], 'polling requests answered with an error (a 400 is "Session ID unknown")');
  });

  it('a client that starts with long-polling upgrades to WebSocket through nginx and keeps receiving', async () => {
    const device = await deviceThroughNginx(stack, 'upgrader', address(70), { transports: ['polling', 'websocket'] });
    await waitUntil(() => device.client.transport === 'websocket', 'the upgrade to websocket');
    await stack.publisher.publish(Patterns.NotifyUser, { userId: 'upgrader', type: 'after-upgrade', data: null });
    await device.client.waitForType('after-upgrade');
    assert.equal(device.client.ofType('after-upgrade').length, 1);
    assert.deepEqual(device.client.disconnects, []);
    assert.deepEqual(device.client.transportErrors, []);
  });

  it('refuses /metrics through nginx itself, however the path is spelled: no such request reaches an instance', async () => {
    const paths = ['/metrics', '/metrics/', '/metrics?format=json', '/health/../metrics', '/socket.io/../metrics', '/socket.io/%2e%2e/metrics', '//metrics'];
    for (const path of paths) {
      const response = await rawGet(stack.nginx.port, path);
      assert.equal(response.status, 403, `${path} answered ${response.status}`);
      assert.match(response.body, /<center>nginx<\/center>/, `${path} was not answered by nginx itself`);
      assert.doesNotMatch(response.body, /# (HELP|TYPE)/, `${path} leaked metrics`);
    }
    await waitUntil(async () => (await stack.nginx.accessLog()).filter((record) => record.request.includes('metrics')).length >= paths.length, 'the access log');
    const proxied = (await stack.nginx.accessLog()).filter((record) => record.request.includes('metrics') && record.upstream !== '');
    assert.deepEqual(proxied, [], '/metrics requests were proxied to an instance');
  });

  it('each instance answers /metrics directly on its own port (needs the metrics feature)', async () => {
    for (const instance of stack.topology.gateways) {
      const response = await fetch(`${instance.url}/metrics`);
      assert.equal(response.status, 200, `${instance.instanceId} /metrics`);
      assert.match(await response.text(), /# TYPE /);
    }
  });

  it('proxies /health/*, hides versions, 404s everything else and refuses oversized requests', async () => {
    const ready = await fetch(`${stack.nginx.url}/health/ready`);
    assert.equal(ready.status, 200);
    assert.equal(((await ready.json()) as { status: string }).status, 'ok');
    assert.equal(ready.headers.get('server'), 'nginx', 'no version in the Server header');
    assert.equal(ready.headers.get('x-powered-by'), null);
    assert.equal((await fetch(`${stack.nginx.url}/health/live`)).status, 200);

    const unknown = await fetch(`${stack.nginx.url}/anything-else`);
    assert.equal(unknown.status, 404);
    assert.doesNotMatch(await unknown.text(), /nginx\/\d/, 'no version on error pages');

    const bigBody = await fetch(`${stack.nginx.url}/socket.io/?EIO=4&transport=polling`, { method: 'POST', body: 'x'.repeat(200 * 1024) });
    assert.equal(bigBody.status, 413);
    const bigHeader = await fetch(`${stack.nginx.url}/health/live`, { headers: { 'x-padding': 'x'.repeat(32 * 1024) } });
    assert.ok(bigHeader.status === 400 || bigHeader.status === 431 || bigHeader.status === 494, `oversized header answered ${bigHeader.status}`);
    for (const instance of stack.topology.gateways) assert.equal(await instance.isReady(), true);
  });
});

describe('behind nginx: an instance dies', () => {
  let stack: EdgeStack;

  before(async () => {
    stack = await startStack();
  });

  after(async () => {
    await stopStack(stack);
  });

  it('its clients reconnect through nginx to the others, get notifications once, and new connections all succeed', async () => {
    const reconnecting: ClientOptions = { reconnection: true, reconnectionDelay: 100, reconnectionDelayMax: 1000, randomizationFactor: 0 };
    const devices: Placed[] = [];
    for (let n = 0; n < 15; n++) devices.push(await deviceThroughNginx(stack, `fo-user-${n}`, address(100 + n), reconnecting));

    // The instance with the most clients crashes.
    const counts = new Map<GatewayHandle, number>();
    for (const device of devices) counts.set(device.instance, (counts.get(device.instance) ?? 0) + 1);
    const [victim] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
    const orphans = devices.filter((device) => device.instance === victim);
    const others = stack.topology.gateways.filter((instance) => instance !== victim);
    await victim.kill();

    await waitUntil(() => orphans.every((device) => device.client.reconnects >= 1 && device.client.socket.connected), 'the orphaned clients to reconnect', 30_000);
    for (const device of orphans) {
      const instance = await stack.topology.instanceOf(present(device.client.socket.id, 'socket id'));
      assert.ok(others.includes(instance), `${device.from} reconnected to the dead instance?`);
    }

    for (const device of devices) {
      await stack.publisher.publish(Patterns.NotifyUser, { userId: device.user, type: 'after-crash', data: null });
    }
    await barrier(stack, 'after-crash', devices);
    for (const device of devices) assert.equal(device.client.ofType('after-crash').length, 1, `${device.user} from ${device.from}`);

    // New connections, including from the addresses that hashed to the dead instance, all succeed.
    const fresh: Placed[] = [];
    for (const device of orphans) fresh.push(await deviceThroughNginx(stack, `${device.user}-again`, device.from));
    for (let n = 0; n < 10; n++) fresh.push(await deviceThroughNginx(stack, `fo-new-${n}`, address(150 + n)));
    for (const device of fresh) assert.ok(others.includes(device.instance));
    await barrier(stack, 'fresh', fresh);
  });
});
