import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ClientRequests, NOTIFICATIONS_NAMESPACE, RequestErrorCodes, isRequestError, type InboxItem, type InboxListReply, type Reply } from '@herald/contracts';
import { HeraldRequestError, MemoryCursorStorage } from '@herald/client';
import { HeraldPublisher } from '@herald/publisher';
import { io } from 'socket.io-client';
import { cleanUp, HeraldRedis, InboxDevice, MetricsSnapshot, signToken, startDurable, waitUntil, type Topology } from '@herald/testing';

/** A small deterministic PRNG (mulberry32): the randomized sequence is the same on every run, and printed on failure. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The inbox as users live it: paging through history, an unread badge that is exact on every device, read state and
 * delivery status, and every bad request answered with an error and nothing else.
 */
describe('inbox: history, unread counts, read state and delivery status (3 instances)', () => {
  let topology: Topology;
  let sdk: HeraldPublisher;
  let redis: HeraldRedis;
  const devices: InboxDevice[] = [];

  const connect = async (user: string, instance: number, name?: string): Promise<InboxDevice> => {
    const device = await InboxDevice.connect(topology.at(instance).url, user, { name: name ?? `${user}@${String(instance)}` });
    devices.push(device);
    return device;
  };

  /** Publishes `count` notifications to a user and waits until `witness` shows them all. */
  const notify = async (user: string, prefix: string, count: number, witness: InboxDevice): Promise<string[]> => {
    const ids: string[] = [];
    for (let n = 1; n <= count; n++) ids.push(await sdk.notifyUser({ userId: user, id: `${prefix}-${String(n)}`, type: prefix, data: { n } }));
    await witness.waitFor(() => ids.every((id) => witness.ids().includes(id)), `${String(count)} notifications ${prefix}`);
    return ids;
  };

  before(async () => {
    ({ topology, sdk, redis } = await startDurable({ gateways: 3 }));
  });

  after(async () => {
    await cleanUp(...devices, sdk, redis, topology);
  });

  it('pages through 250 stored notifications newest first, with no gap and no repeat, while new ones arrive', async () => {
    const device = await connect('in-pages', 0);
    const stored = await notify('in-pages', 'p', 250, device);
    const seen: InboxItem[] = [];
    const late: string[] = [];
    let before: string | undefined;
    for (;;) {
      const page = await device.client.list({ before, limit: 37 });
      seen.push(...page.items);
      // A new notification lands on top while paging: the pages below stay as they were.
      late.push(await sdk.notifyUser({ userId: 'in-pages', id: `late-${String(late.length + 1)}`, data: {} }));
      if (page.next === null) break;
      before = page.next;
    }
    assert.equal(late.length, Math.ceil(250 / 37), 'one page per 37');
    assert.deepEqual(
      seen.map((item) => item.id),
      [...stored].reverse(),
    );
    assert.ok(
      seen.every((item) => !item.read),
      'nothing was read',
    );
    await device.waitFor(() => late.every((id) => device.ids().includes(id)), 'the late ones');
    const newest = await device.client.list({ limit: late.length });
    assert.deepEqual(
      newest.items.map((item) => item.id),
      [...late].reverse(),
    );
  });

  it('keeps the badge exact on 3 devices on 3 instances while notifications and reads interleave at random (model check after every step)', async () => {
    const seed = 20261126;
    const next = random(seed);
    const user = 'in-model';
    const phones = [await connect(user, 0, 'phone'), await connect(user, 1, 'laptop'), await connect(user, 2, 'tablet')];
    const model = { unread: new Set<string>(), all: [] as string[] };
    let published = 0;
    const steps: string[] = [];
    for (let step = 0; step < 40; step++) {
      const roll = next();
      const device = phones[Math.floor(next() * phones.length)] ?? phones[0];
      if (roll < 0.45 || model.all.length === 0) {
        const count = 1 + Math.floor(next() * 3);
        const ids: string[] = [];
        for (let n = 0; n < count; n++) ids.push(await sdk.notifyUser({ userId: user, id: `m-${String(++published)}`, data: { step } }));
        for (const id of ids) model.unread.add(id);
        model.all.push(...ids);
        steps.push(`notify ${ids.join(',')}`);
        await Promise.all(phones.map((phone) => phone.waitFor(() => ids.every((id) => phone.ids().includes(id)), `step ${String(step)}: ${steps.at(-1) ?? ''}`)));
      } else if (roll < 0.85) {
        // Some unread, some read already, some never stored: only the unread ones count.
        const pick = Array.from({ length: 1 + Math.floor(next() * 3) }, () => model.all[Math.floor(next() * model.all.length)] ?? 'none');
        pick.push(`unknown-${String(step)}`);
        await device.client.markRead(pick);
        for (const id of pick) model.unread.delete(id);
        steps.push(`${device.name} reads ${pick.join(',')}`);
      } else {
        // Mark all read up to what this device has shown.
        const shown = device.ids();
        await device.client.markAllRead();
        for (const id of shown) model.unread.delete(id);
        steps.push(`${device.name} marks all read up to ${shown.at(-1) ?? '-'}`);
      }
      const expected = model.unread.size;
      for (const phone of phones) await phone.waitForUnread(expected, `seed ${String(seed)} step ${String(step)} (${steps.at(-1) ?? ''}): unread ${String(expected)}`);
    }
    // Exact in Redis too, and every device saw every notification once.
    const fresh = await connect(user, 0, 'fresh');
    assert.equal(fresh.readies[0]?.unread, model.unread.size);
    for (const phone of phones) assert.deepEqual(phone.ids(), model.all, `${phone.name} got every notification once, in order`);
    // The SDK's read flags, and the server's in a listing, are the model's.
    const listed = await fresh.client.list({ limit: 100 });
    assert.deepEqual(
      listed.items.map((item) => [item.id, item.read]),
      [...model.all].reverse().map((id) => [id, !model.unread.has(id)]),
    );
    for (const phone of phones) {
      assert.deepEqual(
        model.all.filter((id) => phone.client.isRead(id) !== !model.unread.has(id)),
        [],
        `${phone.name}: read flags`,
      );
    }
    assert.ok(
      phones.every((phone) => phone.badges.every((badge) => badge >= 0)),
      'no badge ever went negative',
    );
  });

  it('mark-all-read racing a new notification: the new one stays unread', async () => {
    const device = await connect('in-race', 0);
    const other = await connect('in-race', 1);
    await notify('in-race', 'old', 3, device);
    const upTo = device.client.cursor;
    // The new notification is stored while the mark-all-read is on its way: it is after upTo, so it stays unread.
    const [newId] = await Promise.all([sdk.notifyUser({ userId: 'in-race', id: 'race-new', data: {} }), device.client.markAllRead(upTo)]);
    await device.waitFor(() => device.ids().includes(newId), 'the new notification');
    await Promise.all([device.waitForUnread(1), other.waitForUnread(1)]);
    const status = await sdk.status('in-race', newId);
    assert.equal(status.read, false);
    assert.equal((await sdk.status('in-race', 'old-3')).read, true);
  });

  it('status moves from stored to delivered (a device acknowledged it) to read; unknown ids are not stored', async () => {
    // An app that ran before (its cursor is stored), closed when the notification came: restarted, it resumes.
    const storage = new MemoryCursorStorage();
    const earlier = await InboxDevice.connect(topology.at(0).url, 'in-status', { name: 'earlier', storage });
    await earlier.close();
    const id = await sdk.notifyUser({ userId: 'in-status', data: { text: 'hello' } });
    await waitUntil(async () => (await sdk.status('in-status', id)).stored, 'the notification to be stored');
    const stored = await sdk.status('in-status', id);
    assert.deepEqual(
      { ...stored, storedAt: undefined, cursor: undefined },
      { id, userId: 'in-status', stored: true, delivered: false, read: false, storedAt: undefined, cursor: undefined },
    );
    assert.equal(typeof stored.cursor, 'string');

    // It comes back (on another instance), gets it replayed, and acknowledges it.
    const device = await InboxDevice.connect(topology.at(1).url, 'in-status', { name: 'back', storage });
    assert.deepEqual(device.ids(), [id]);
    assert.deepEqual([device.readies[0]?.replayed, device.readies[0]?.recovered], [1, true]);
    devices.push(device);
    await waitUntil(async () => (await sdk.status('in-status', id)).delivered, 'the acknowledgement', 10_000);
    const delivered = await sdk.status('in-status', id);
    assert.ok(delivered.deliveredAt !== undefined && delivered.storedAt !== undefined && delivered.deliveredAt >= delivered.storedAt);
    assert.equal(delivered.read, false);

    await device.client.markRead([id]);
    const read = await sdk.status('in-status', id);
    assert.equal(read.read, true);
    assert.ok(read.readAt !== undefined && read.readAt >= (delivered.deliveredAt ?? ''));
    assert.deepEqual(await sdk.status('in-status', 'never-sent'), { id: 'never-sent', userId: 'in-status', stored: false, delivered: false, read: false });
    assert.deepEqual(await sdk.status('someone-else', id), { id, userId: 'someone-else', stored: false, delivered: false, read: false }, 'ids are per user');
  });

  it('answers every malformed request with an error, keeps the connection, and changes nothing', async () => {
    const witness = await connect('in-bad', 2);
    await notify('in-bad', 'b', 3, witness);
    const other = await connect('in-bad-other', 0);
    await notify('in-bad-other', 'secret', 1, other);
    const socket = io(`${topology.at(0).url}${NOTIFICATIONS_NAMESPACE}`, {
      transports: ['websocket'],
      auth: { token: await signToken({ sub: 'in-bad' }) },
      reconnection: false,
    });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('connect_error', reject);
    });
    const metricsBefore = await MetricsSnapshot.scrape(topology.at(0).url);
    // Another user's cursor: its own feed's epoch, so it names nothing in this inbox.
    const foreignCursor = other.notifications[0]?.cursor ?? '';
    const bad: Array<[string, unknown, string]> = [
      [ClientRequests.InboxList, { limit: 0 }, RequestErrorCodes.InvalidRequest],
      [ClientRequests.InboxList, { limit: 101 }, RequestErrorCodes.InvalidRequest],
      [ClientRequests.InboxList, { limit: '5' }, RequestErrorCodes.InvalidRequest],
      [ClientRequests.InboxList, { before: 'garbage' }, RequestErrorCodes.InvalidRequest],
      [ClientRequests.InboxList, { before: foreignCursor.replace(/^[^.]+/, 'zz') }, RequestErrorCodes.StaleCursor],
      [ClientRequests.InboxList, { userId: 'in-bad-other' }, RequestErrorCodes.InvalidRequest],
      [ClientRequests.InboxList, 'text', RequestErrorCodes.InvalidRequest],
      [ClientRequests.InboxList, [1, 2], RequestErrorCodes.InvalidRequest],
      [ClientRequests.InboxRead, { ids: [] }, RequestErrorCodes.InvalidRequest],
      [ClientRequests.InboxRead, { ids: 'b-1' }, RequestErrorCodes.InvalidRequest],
      [ClientRequests.InboxRead, { ids: [1] }, RequestErrorCodes.InvalidRequest],
      [ClientRequests.InboxRead, { ids: Array.from({ length: 101 }, (_, n) => `x${String(n)}`) }, RequestErrorCodes.InvalidRequest],
      [ClientRequests.InboxRead, null, RequestErrorCodes.InvalidRequest],
      [ClientRequests.InboxReadAll, { upTo: 'not a cursor' }, RequestErrorCodes.InvalidRequest],
      [ClientRequests.InboxReadAll, { upTo: foreignCursor }, RequestErrorCodes.StaleCursor],
      [ClientRequests.InboxReadAll, { upTo: `${(witness.client.cursor ?? '').split('.')[0] ?? ''}.999` }, RequestErrorCodes.StaleCursor],
      ['inbox.delete', { ids: ['b-1'] }, RequestErrorCodes.InvalidRequest],
    ];
    for (const [event, payload, code] of bad) {
      const reply: unknown = await socket.timeout(5000).emitWithAck(event as typeof ClientRequests.InboxList, payload);
      assert.ok(isRequestError(reply), `${event} ${JSON.stringify(payload)} is refused`);
      assert.equal(reply.error.code, code, `${event} ${JSON.stringify(payload)}: ${reply.error.message}`);
    }
    // Fire-and-forget ones have nobody to answer: counted, nothing else.
    socket.emit(ClientRequests.InboxAck, { cursor: 42 });
    socket.emit(ClientRequests.InboxAck, { cursor: foreignCursor });
    const list = (await socket.timeout(5000).emitWithAck(ClientRequests.InboxList, {})) as Reply<InboxListReply>;
    assert.ok(!isRequestError(list));
    assert.deepEqual(
      list.items.map((item) => item.id),
      ['b-3', 'b-2', 'b-1'],
      'its own inbox only, unchanged',
    );
    assert.equal(socket.connected, true);
    // Through the SDK a refusal is a HeraldRequestError with the same code.
    await assert.rejects(
      witness.client.list({ limit: 1000 }),
      (error: unknown) => error instanceof HeraldRequestError && error.code === RequestErrorCodes.InvalidRequest,
    );
    assert.equal(witness.unread, 3);
    assert.equal((await sdk.status('in-bad', 'b-1')).delivered, true, 'the witness acknowledged it');
    assert.equal((await sdk.status('in-bad-other', 'secret-1')).read, false);
    await waitUntil(async () => {
      const refused = (await MetricsSnapshot.scrape(topology.at(0).url)).changesSince(metricsBefore, 'herald_client_requests_refused_total');
      return Object.values(refused).reduce((sum, count) => sum + count, 0) === bad.length - 1 + 2;
    }, 'every refusal counted (the unknown event as unexpected, the two bad acks as refused)');
    socket.close();
  });
});
