import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Patterns, userFeedKeys } from '@herald/contracts';
import { HeraldPublisher } from '@herald/publisher';
import {
  cleanUp,
  DeliveryLedger,
  describeLoad,
  diagnoseLines,
  HeraldRedis,
  publishSteadily,
  ResumingDevice,
  waitUntil,
  type PendingEntry,
  type StreamEntry,
  type Topology,
  startDurable,
} from '@herald/testing';

const CLAIM_IDLE_MS = 1500;
const MAX_ATTEMPTS = 3;

/**
 * Ingest: the gateways read the command stream as one consumer group. An entry is acknowledged only once stored and
 * routed, so a crashed instance's unacknowledged entries are reclaimed by another after INGEST_CLAIM_IDLE_MS; an entry
 * that keeps failing is moved to the dead-letter stream after INGEST_MAX_ATTEMPTS and acknowledged.
 */
describe(`durable: ingest (INGEST_CLAIM_IDLE_MS=${CLAIM_IDLE_MS}, INGEST_MAX_ATTEMPTS=${MAX_ATTEMPTS})`, () => {
  let topology: Topology;
  let sdk: HeraldPublisher;
  let redis: HeraldRedis;
  const devices: ResumingDevice[] = [];
  /** Consumer names of the instance started second (the survivor): every other consumer is the victim's. */
  let survivorConsumers = new Set<string>();

  before(async () => {
    // Instance 0 first, alone, so that the consumer(s) it creates in the group can be told from the survivor's.
    ({ topology, sdk, redis } = await startDurable({
      gateways: 1,
      gatewayEnv: { INGEST_CLAIM_IDLE_MS: String(CLAIM_IDLE_MS), INGEST_MAX_ATTEMPTS: String(MAX_ATTEMPTS) },
    }));
    // Redis creates a consumer when its XREADGROUP first returns something: a command while instance 0 is alone.
    await sdk.notifyUser({ userId: 'ig-warmup', id: 'ig-warmup-0', type: 'warmup', data: null });
    await waitUntil(async () => (await redis.commandConsumers()).length > 0, 'instance 0 to join the consumer group');
    const first = new Set((await redis.commandConsumers()).map((consumer) => consumer.name));
    await topology.addGateway();
    // Instance 1 shows up once it has read something too: commands until it has.
    for (let n = 1; n <= 200 && !(await redis.commandConsumers()).some((consumer) => !first.has(consumer.name)); n++) {
      await sdk.notifyUser({ userId: 'ig-warmup', id: `ig-warmup-${n}`, type: 'warmup', data: null });
      await waitUntil(() => redis.commandsSettled(), 'the warm-up command to be acknowledged');
    }
    survivorConsumers = new Set((await redis.commandConsumers()).map((consumer) => consumer.name).filter((name) => !first.has(name)));
  });

  after(async () => {
    await cleanUp(...devices, sdk, redis, topology);
  });

  /*
   * Making an instance hold read-but-unacknowledged commands at the moment it dies, without touching the gateway:
   * a burst of commands is published as fast as the SDK pipelines them, both instances read it in batches, and while
   * it is being consumed the test watches XINFO CONSUMERS and SIGKILLs instance 0 as soon as one of its consumers
   * holds pending entries. Whether it still held some when the signal landed is read from XPENDING right after the
   * exit, well within INGEST_CLAIM_IDLE_MS, so nothing can have been reclaimed yet: those entries are the stranded
   * ones. If there were none (it had acknowledged everything just in time), instance 0 is started again and the
   * attempt repeated with a bigger burst, at most 4 times. The devices are all on instance 1, which survives.
   */
  it('SIGKILL of an instance holding unacknowledged commands: another instance reclaims them; 0 lost, 0 duplicated', async (t) => {
    const users = Array.from({ length: 20 }, (_, index) => `ig-user-${index}`);
    const ledger = new DeliveryLedger();
    for (const user of users) {
      const device = await ResumingDevice.connect(topology.at(1).url, user);
      devices.push(device);
      ledger.track(device);
    }

    let stranded: PendingEntry[] = [];
    let strandedCommands: StreamEntry[] = [];
    for (let attempt = 1; attempt <= 4 && stranded.length === 0; attempt++) {
      if (attempt > 1) {
        await topology.launchGateway(0);
        await waitUntil(() => redis.commandsSettled(), 'the earlier attempt to be settled');
      }
      const burst = 1500 * attempt;
      const victimPending = async (): Promise<number> =>
        (await redis.commandConsumers()).filter((consumer) => !survivorConsumers.has(consumer.name)).reduce((sum, consumer) => sum + consumer.pending, 0);
      const publishing = publishSteadily(sdk, { users, count: burst, ratePerSecond: 100_000, maxDurationMs: 10_000, type: 'burst', idPrefix: `burst${attempt}`, ledger });
      await waitUntil(async () => (await victimPending()) > 0, 'instance 0 to hold unacknowledged commands', 10_000, 1).catch(() => undefined);
      await topology.killGateway(0);
      const atDeath = await redis.pendingCommands();
      stranded = atDeath.filter((entry) => !survivorConsumers.has(entry.consumer));
      // Acknowledged entries are deleted from the stream: read the stranded ones now, before the survivor takes them.
      strandedCommands = (await Promise.all(stranded.map((entry) => redis.commandRange(entry.id, entry.id)))).flat();
      const load = await publishing;
      t.diagnostic(`attempt ${attempt}: ${describeLoad(load)}; at the kill ${atDeath.length} pending, ${stranded.length} of them on instance 0's consumer(s)`);
      assert.equal(load.accepted, burst, 'Redis accepted the whole burst');
    }
    assert.ok(stranded.length > 0, 'instance 0 never died holding unacknowledged commands in 4 attempts');
    assert.ok(
      stranded.every((entry) => entry.idleMs < CLAIM_IDLE_MS),
      `the snapshot was taken before any could be reclaimed: ${JSON.stringify(stranded.slice(0, 3))}`,
    );

    const strandedIds = new Set(stranded.map((entry) => entry.id));
    await waitUntil(
      async () => !(await redis.pendingCommands()).some((entry) => strandedIds.has(entry.id)),
      `the ${strandedIds.size} stranded command(s) to be reclaimed and acknowledged`,
      CLAIM_IDLE_MS + 15_000,
    );
    await waitUntil(() => redis.commandsSettled(), 'every command to be acknowledged');
    await waitUntil(() => ledger.complete(), 'every device to receive every accepted notification', 20_000).catch(() => undefined);

    const order = new Map(await Promise.all(users.map(async (user) => [user, await redis.feedIds(user)] as const)));
    const rows = ledger.rows(order);
    diagnoseLines(t, DeliveryLedger.table(rows));
    DeliveryLedger.assertClean(rows, 'after the crash and the reclaim');
    for (const user of users) {
      assert.equal((order.get(user) ?? []).length, ledger.accepted(user).length, `${user}: each accepted notification stored once`);
      assert.equal(new Set(order.get(user)).size, (order.get(user) ?? []).length, `${user}: no id twice in the feed`);
    }
    // Their notifications are among the delivered (the ledger counted them); and each was stored.
    assert.equal(strandedCommands.length, strandedIds.size, 'the stranded entries were in the command stream at the kill');
    for (const entry of strandedCommands) {
      const { id, userId } = JSON.parse(entry.fields['data']) as { id: string; userId: string };
      assert.ok((order.get(userId) ?? []).includes(id), `stranded ${entry.id} (${id}) was stored`);
    }
    // Instance 0 starts again (same instance id) and joins in again for what follows.
    await topology.launchGateway(0);
  });

  it(`a poison command is dead-lettered after ${MAX_ATTEMPTS} attempts, with its error, and the stream flows on`, async () => {
    const healthy = await ResumingDevice.connect(topology.at(1).url, 'ig-healthy');
    devices.push(healthy);
    // The store script fails every time for this user: the feed's meta key holds a string (WRONGTYPE on its first
    // call). Not the log key: for a feed without meta the script starts a new feed and deletes whatever the log key held.
    await redis.command('SET', userFeedKeys('ig-poison').meta, 'x');
    const deadBefore = (await redis.deadLetters()).length;

    const data = JSON.stringify({ userId: 'ig-poison', id: 'ig-poison-1', type: 'poison', data: { n: 1 } });
    const entry = await redis.addRawCommand({ pattern: Patterns.NotifyUser, data });
    await sdk.notifyUser({ userId: 'ig-healthy', id: 'ig-healthy-1', type: 'healthy', data: null });
    await healthy.waitForType('healthy');

    await waitUntil(async () => (await redis.deadLetters()).length > deadBefore, 'the poison command to be dead-lettered', MAX_ATTEMPTS * CLAIM_IDLE_MS + 20_000);
    const dead = (await redis.deadLetters()).slice(deadBefore);
    assert.equal(dead.length, 1, 'dead-lettered once');
    const fields = dead[0].fields;
    assert.equal(fields['pattern'], Patterns.NotifyUser);
    assert.equal(fields['data'], data, 'the command exactly as published');
    assert.equal(fields['entry'], entry, 'the id of the original stream entry');
    assert.equal(fields['attempts'], String(MAX_ATTEMPTS));

    await waitUntil(async () => !(await redis.pendingCommands()).some((pending) => pending.id === entry), 'the poison entry to be acknowledged');
    assert.equal(await redis.command('GET', userFeedKeys('ig-poison').meta), 'x', 'the poisoned key is untouched');
    assert.equal(await redis.command('EXISTS', userFeedKeys('ig-poison').log), 0, 'nothing was stored for it');
    await sdk.notifyUser({ userId: 'ig-healthy', id: 'ig-healthy-2', type: 'healthy', data: null });
    await healthy.waitForType('healthy', 2);
    await waitUntil(() => redis.commandsSettled(), 'nothing left pending');
    assert.equal((await redis.deadLetters()).length, deadBefore + 1, 'only the poison was dead-lettered');
    assert.deepEqual(
      healthy.ofType('healthy').map((envelope) => envelope.id),
      ['ig-healthy-1', 'ig-healthy-2'],
    );
    // What an operator reads to see why: the store's own error (Redis' WRONGTYPE), not a generic one.
    const logged = (await Promise.all(topology.gateways.map((gateway) => gateway.logs())))
      .flat()
      .filter((record) => String(record['msg']).includes(entry))
      .map((record) => String(record['msg']));
    assert.match(fields['error'] ?? '', /WRONGTYPE/, `the dead letter carries the error of the last attempt; the gateways logged:\n${logged.join('\n')}`);
  });
});

/**
 * The reader (the ingest lease holder) dies holding commands it read but never acknowledged, with the claim idle time
 * as shipped (30 s). The instance that takes the lease next claims them at once, whatever their idle time: its
 * devices get them within a lease or so, not INGEST_CLAIM_IDLE_MS later.
 */
describe('durable: ingest takeover after the reader dies (INGEST_CLAIM_IDLE_MS as shipped)', () => {
  const SHIPPED_CLAIM_IDLE_MS = 30_000;
  let topology: Topology;
  let sdk: HeraldPublisher;
  let redis: HeraldRedis;
  const devices: ResumingDevice[] = [];

  before(async () => {
    ({ topology, sdk, redis } = await startDurable({ gateways: 2 }));
  });

  after(async () => {
    await cleanUp(...devices, sdk, redis, topology);
  });

  it('the next reader takes over what the dead one held at once, in well under INGEST_CLAIM_IDLE_MS; 0 lost, 0 duplicated', async (t) => {
    const users = Array.from({ length: 10 }, (_, index) => `tk-user-${index}`);
    const ledger = new DeliveryLedger();
    let stranded: PendingEntry[] = [];
    let killedAt = 0;
    for (let attempt = 1; attempt <= 4 && stranded.length === 0; attempt++) {
      await waitUntil(async () => (await redis.ingestReader()) !== null, 'an instance to hold the ingest lease');
      const reader = await redis.ingestReader();
      const victim = topology.gateways.findIndex((gateway) => gateway.instanceId === reader);
      assert.ok(victim >= 0, `the lease holder ${String(reader)} is one of the gateways`);
      // The devices are on the other instance, which survives.
      for (const user of users.filter(() => attempt === 1)) {
        const device = await ResumingDevice.connect(topology.at(1 - victim).url, user);
        devices.push(device);
        ledger.track(device);
      }
      const burst = 1500 * attempt;
      const publishing = publishSteadily(sdk, { users, count: burst, ratePerSecond: 100_000, maxDurationMs: 10_000, type: 'takeover', idPrefix: `tk${attempt}`, ledger });
      const readerPending = async (): Promise<number> => (await redis.commandConsumers()).find((consumer) => consumer.name === reader)?.pending ?? 0;
      await waitUntil(async () => (await readerPending()) > 0, 'the reader to hold unacknowledged commands', 10_000, 1).catch(() => undefined);
      await topology.killGateway(victim);
      killedAt = Date.now();
      stranded = (await redis.pendingCommands()).filter((entry) => entry.consumer === reader);
      const load = await publishing;
      t.diagnostic(`attempt ${attempt}: ${describeLoad(load)}; ${stranded.length} stranded on the dead reader`);
      if (stranded.length === 0) {
        await topology.launchGateway(victim);
        await waitUntil(() => redis.commandsSettled(), 'the attempt to be settled', 20_000);
      }
    }
    assert.ok(stranded.length > 0, 'the reader never died holding unacknowledged commands in 4 attempts');

    const strandedIds = new Set(stranded.map((entry) => entry.id));
    // Half the claim idle time: what waited for it would still be pending; what is taken over at once is long done.
    await waitUntil(
      async () => !(await redis.pendingCommands()).some((entry) => strandedIds.has(entry.id)),
      `the ${strandedIds.size} stranded command(s) to be taken over and acknowledged`,
      SHIPPED_CLAIM_IDLE_MS / 2,
    );
    t.diagnostic(`stranded commands acknowledged ${((Date.now() - killedAt) / 1000).toFixed(1)} s after the kill`);
    await waitUntil(() => redis.commandsSettled(), 'every command to be acknowledged', SHIPPED_CLAIM_IDLE_MS / 2);
    await waitUntil(() => ledger.complete(), 'every device to receive every accepted notification', 10_000).catch(() => undefined);
    const order = new Map(await Promise.all(users.map(async (user) => [user, await redis.feedIds(user)] as const)));
    const rows = ledger.rows(order);
    diagnoseLines(t, DeliveryLedger.table(rows));
    DeliveryLedger.assertClean(rows, 'after the reader died and the next one took over');
  });
});
