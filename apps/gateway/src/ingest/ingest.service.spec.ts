import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BROADCAST_FEED_KEYS, CommandRejectReasons, Patterns, userFeedKeys, type FeedKeys } from '@herald/contracts';
import { HeraldMetrics } from '@herald/metrics';
import type { PinoLogger } from 'nestjs-pino';
import { loadConfig } from '../config/app-config.js';
import { InboxStore, type AppendResult, type FeedRange, type NewNotification } from '../inbox/inbox-store.js';
import { CommandValidatorService } from './command-validator.service.js';
import { MalformedCommand } from './command.deserializer.js';
import { IngestService } from './ingest.service.js';

/** An in-memory store with the real one's contract: one entry per (feed, id), sequence numbers from 1. */
class MemoryStore extends InboxStore {
  readonly feeds = new Map<string, NewNotification[]>();
  failing = false;

  async append(feed: FeedKeys, notification: NewNotification): Promise<AppendResult> {
    if (this.failing) throw new Error('store unreachable');
    const log = this.feeds.get(feed.log) ?? [];
    this.feeds.set(feed.log, log);
    const existing = log.findIndex(({ id }) => id === notification.id);
    if (existing >= 0) return { stored: false, position: { epoch: 'e', seq: existing + 1 } };
    log.push(notification);
    return { stored: true, position: { epoch: 'e', seq: log.length } };
  }

  async readAfter(): Promise<FeedRange> {
    throw new Error('not used');
  }
}

function setup() {
  const store = new MemoryStore();
  const metrics = new HeraldMetrics({ instanceId: 'unit', defaultMetrics: false });
  const warnings: unknown[] = [];
  const logger = { warn: (fields: unknown) => warnings.push(fields) } as unknown as PinoLogger;
  const validator = new CommandValidatorService(loadConfig({ JWT_SECRET: 'unit-test-secret-0123456789', MAX_PAYLOAD_BYTES: '100' }));
  const ingest = new IngestService(validator, store, metrics, logger);
  const counter = async (name: string, labels: Record<string, string> = {}): Promise<number> => {
    const metric = await metrics.registry.getSingleMetric(name)?.get();
    return metric?.values.find((value) => Object.entries(labels).every(([key, label]) => value.labels[key] === label))?.value ?? 0;
  };
  return { store, ingest, warnings, counter };
}

describe('IngestService', () => {
  it("stores a notify.user once in its user's feed, as an envelope the store completes with its cursor", async () => {
    const { store, ingest, counter } = setup();
    const outcome = await ingest.handle(Patterns.NotifyUser, { userId: 'ann', type: 't', id: 'n1', sentAt: 0, data: { a: 1 } });
    assert.deepEqual(outcome, { accepted: true, stored: 1, duplicates: 0 });
    const [stored] = store.feeds.get(userFeedKeys('ann').log) ?? [];
    assert.deepEqual(stored, {
      id: 'n1',
      envelopePrefix: '{"id":"n1","type":"t","data":{"a":1},"createdAt":"1970-01-01T00:00:00.000Z"',
      pattern: Patterns.NotifyUser,
      createdAtMs: 0,
    });
    assert.deepEqual(JSON.parse(`${stored.envelopePrefix},"cursor":"e.1"}`), {
      id: 'n1',
      type: 't',
      data: { a: 1 },
      createdAt: '1970-01-01T00:00:00.000Z',
      cursor: 'e.1',
    });
    assert.equal(await counter('herald_notifications_stored_total', { feed: 'user' }), 1);
  });

  it('stores a retried id nothing more, and counts it as deduplicated', async () => {
    const { store, ingest, counter } = setup();
    const command = { userId: 'ann', id: 'same', data: 1 };
    await ingest.handle(Patterns.NotifyUser, command);
    assert.deepEqual(await ingest.handle(Patterns.NotifyUser, command), { accepted: true, stored: 0, duplicates: 1 });
    assert.equal(store.feeds.get(userFeedKeys('ann').log)?.length, 1);
    assert.equal(await counter('herald_notifications_deduplicated_total'), 1);
  });

  it('gives a command without id the same derived id every time: a pub/sub command every instance receives is stored once', async () => {
    const { store, ingest } = setup();
    for (let instance = 0; instance < 3; instance++) await ingest.handle(Patterns.NotifyUser, { userId: 'ann', data: { x: 1 }, sentAt: 5 });
    assert.equal(store.feeds.get(userFeedKeys('ann').log)?.length, 1);
  });

  it('fans notify.users out to one feed per distinct user, and puts a broadcast in the broadcast feed, marked as such', async () => {
    const { store, ingest } = setup();
    assert.deepEqual(await ingest.handle(Patterns.NotifyUsers, { userIds: ['ann', 'zed', 'ann'], data: 1, id: 'm' }), { accepted: true, stored: 2, duplicates: 0 });
    assert.deepEqual([...store.feeds.keys()], [userFeedKeys('ann').log, userFeedKeys('zed').log]);
    await ingest.handle(Patterns.NotifyBroadcast, { data: 2, id: 'b' });
    const [broadcast] = store.feeds.get(BROADCAST_FEED_KEYS.log) ?? [];
    assert.match(broadcast.envelopePrefix, /,"feed":"broadcast"$/);
  });

  it('rejects, logs and counts a malformed command, and stores nothing', async () => {
    const { store, ingest, warnings, counter } = setup();
    const bad = [{ userId: 'ann' }, { userId: 'ann', data: 'x'.repeat(200) }, new MalformedCommand(CommandRejectReasons.NotJson, 'message is not JSON')];
    const outcomes = await Promise.all(bad.map((raw) => ingest.handle(Patterns.NotifyUser, raw)));
    assert.deepEqual(outcomes, [
      { accepted: false, reason: CommandRejectReasons.InvalidShape },
      { accepted: false, reason: CommandRejectReasons.PayloadTooLarge },
      { accepted: false, reason: CommandRejectReasons.NotJson },
    ]);
    assert.equal(warnings.length, 3);
    assert.equal(await counter('herald_commands_rejected_total', { pattern: Patterns.NotifyUser, reason: CommandRejectReasons.InvalidShape }), 1);
    assert.equal(store.feeds.size, 0);
  });

  it('rejects (so the command source retries) when the store fails', async () => {
    const { store, ingest } = setup();
    store.failing = true;
    await assert.rejects(ingest.handle(Patterns.NotifyUser, { userId: 'ann', data: 1 }), /store unreachable/);
  });
});
