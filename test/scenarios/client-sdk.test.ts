import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldClient, HeraldRequestError, MemoryCursorStorage, type ConnectionState } from '@herald/client';
import { RequestErrorCodes, type NotificationEnvelope, type SessionReadyPayload } from '@herald/contracts';
import { cleanUp, present, signToken, startDurable, waitUntil, type DurableSetup } from '@herald/testing';

const USER = 'sdk-user';

/** A HeraldClient and what it reported. */
interface Device {
  client: HeraldClient;
  storage: MemoryCursorStorage;
  notifications: NotificationEnvelope[];
  readies: SessionReadyPayload[];
  states: ConnectionState[];
}

/**
 * @herald/client where an app would use it, in Node, against three gateway instances (one device on each): the badge
 * is exact on every device while notifications and reads interleave, mark-all-read leaves a racing notification
 * unread, acknowledgements make notifications delivered, and a restarted app resumes from its stored cursor.
 */
describe('the client SDK against a running Herald', () => {
  let setup: DurableSetup;
  const devices: Device[] = [];

  const connect = async (instance: number, storage = new MemoryCursorStorage()): Promise<Device> => {
    const client = new HeraldClient({
      url: setup.topology.at(instance).url,
      token: () => signToken({ sub: USER }),
      storage,
      socket: { transports: ['websocket'], reconnectionDelay: 100, reconnectionDelayMax: 500 },
    });
    const device: Device = { client, storage, notifications: [], readies: [], states: [] };
    client.on('notification', (n) => device.notifications.push(n));
    client.on('ready', (ready) => device.readies.push(ready));
    client.on('state', (state) => device.states.push(state));
    devices.push(device);
    await waitUntil(() => device.readies.length > 0, `device on instance ${instance} to be ready`);
    return device;
  };
  const publish = (id: string): Promise<string> => setup.sdk.notifyUser({ userId: USER, type: 'sdk', data: { id }, id });
  const badges = (list: readonly Device[]): number[] => list.map((device) => device.client.unread);

  before(async () => {
    setup = await startDurable({ gateways: 3 });
  });

  after(async () => {
    await Promise.all(devices.map((device) => device.client.close()));
    await cleanUp(setup.sdk, setup.redis, setup.topology);
  });

  it('keeps every device’s badge exact while notifications and reads interleave', async () => {
    const [a, b, c] = [await connect(0), await connect(1), await connect(2)];
    const all = [a, b, c];
    assert.deepEqual(badges(all), [0, 0, 0]);

    for (const id of ['s1', 's2', 's3']) await publish(id);
    await waitUntil(() => all.every((device) => device.notifications.length === 3 && device.client.unread === 3), 'three notifications on every device');

    await a.client.markRead(['s2']);
    await waitUntil(() => badges(all).every((count) => count === 2), `badges after one read: ${badges(all).join()}`);
    for (const device of all) assert.equal(device.client.isRead('s2'), true);
    for (const device of all) assert.equal(device.client.isRead('s1'), false);

    await publish('s4');
    await waitUntil(() => badges(all).every((count) => count === 3), `badges after s4: ${badges(all).join()}`);

    // Mark all read (up to what c has shown: s4) races s5: s5 stays unread everywhere.
    await Promise.all([c.client.markAllRead(), publish('s5')]);
    await waitUntil(
      () => all.every((device) => device.notifications.length === 5 && device.client.unread === 1),
      `badges after mark-all-read and s5: ${badges(all).join()}`,
    );
    for (const device of all) {
      assert.equal(device.client.isRead('s4'), true);
      assert.equal(device.client.isRead('s5'), false);
    }

    const page = await b.client.list({ limit: 10 });
    assert.deepEqual(
      page.items.map((item) => [item.id, item.read]),
      [
        ['s5', false],
        ['s4', true],
        ['s3', true],
        ['s2', true],
        ['s1', true],
      ],
    );
    assert.equal(page.next, null);
  });

  it('acknowledges what the devices processed: the publisher sees the notifications delivered, then read', async () => {
    await waitUntil(async () => (await setup.sdk.status(USER, 's5')).delivered, 's5 delivered (acknowledged by a device)');
    const status = await setup.sdk.status(USER, 's5');
    assert.equal(status.stored, true);
    assert.equal(status.read, false);
    assert.equal((await setup.sdk.status(USER, 's2')).read, true);
    assert.equal((await setup.sdk.status(USER, 'never-published')).stored, false);
  });

  it('answers a bad request with its error code, and the connection goes on', async () => {
    const [a] = devices;
    assert.ok(a);
    await assert.rejects(a.client.list({ limit: 1000 }), (error: unknown) => error instanceof HeraldRequestError && error.code === RequestErrorCodes.InvalidRequest);
    await assert.rejects(a.client.markAllRead('not-a-cursor'), (error: unknown) => error instanceof HeraldRequestError);
    assert.equal(a.client.state, 'connected');
    assert.equal((await a.client.list({ limit: 1 })).items.length, 1);
  });

  it('resumes a restarted app from its stored cursor: what was published meanwhile is replayed once', async () => {
    const [a] = devices;
    assert.ok(a);
    await a.client.close();
    await publish('s6');
    const again = await connect(1, a.storage);
    const ready = present(again.readies[0], 'session.ready');
    assert.equal(ready.replayed, 1);
    assert.equal(ready.recovered, true);
    assert.deepEqual(
      again.notifications.map((n) => n.id),
      ['s6'],
    );
    assert.equal(again.client.unread, 2);
  });
});
