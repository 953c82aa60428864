import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { userFeedKeys, type FeedKeys, type FeedPosition } from '@herald/contracts';
import type { PinoLogger } from 'nestjs-pino';
import { loadConfig } from '../config/app-config.js';
import type { MetricsService } from '../ops/metrics.service.js';
import { DeliveryAckCoalescer } from './delivery-ack-coalescer.js';
import type { AckResult, InboxState } from './inbox-store.js';

/** An inbox whose delivered mark is a number per feed, as the ACK script keeps it: what the coalescer writes, in order. */
class FakeInbox {
  readonly writes: Array<{ feed: string; cursor: string; heldMs: number }> = [];
  readonly marks = new Map<string, number>();
  failing = false;

  acknowledge(feed: FeedKeys, position: FeedPosition, heldMs = 0): Promise<AckResult> {
    if (this.failing) return Promise.reject(new Error('Connection is closed.'));
    this.writes.push({ feed: feed.meta, cursor: `${position.epoch}.${position.seq}`, heldMs });
    if (position.epoch !== 'e1' || position.seq > 100) return Promise.resolve({ outcome: 'stale' });
    if (position.seq <= (this.marks.get(feed.meta) ?? 0)) return Promise.resolve({ outcome: 'unchanged' });
    this.marks.set(feed.meta, position.seq);
    return Promise.resolve({ outcome: 'advanced', ageMs: 5 });
  }
}

/** What the coalescer counts: acknowledgements that moved a mark, refusals by code. */
class CountingMetrics {
  acknowledged = 0;
  readonly refused: string[] = [];
  deliveryAcknowledged(): void {
    this.acknowledged++;
  }
  clientRequestRefused(event: string, code: string): void {
    this.refused.push(`${event} ${code}`);
  }
}

const WINDOW_MS = 1000;
const quietLogger = { info: () => undefined, warn: () => undefined } as unknown as PinoLogger;

function setup(windowMs = WINDOW_MS) {
  const inbox = new FakeInbox();
  const metrics = new CountingMetrics();
  const config = loadConfig({ JWT_SECRET: 'unit-test-secret-0123456789', INBOX_ACK_COALESCE_MS: String(windowMs) });
  const coalescer = new DeliveryAckCoalescer(inbox as unknown as InboxState, metrics as unknown as MetricsService, quietLogger, config);
  return { coalescer, inbox, metrics };
}

const at = (seq: number, epoch = 'e1'): FeedPosition => ({ epoch, seq });
/** Lets the writes started by a timer (promises) finish. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('DeliveryAckCoalescer', () => {
  it("writes a user's acknowledgements of one window as one, the highest, with how long it was held", async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
    const { coalescer, inbox, metrics } = setup();
    coalescer.add('alice', at(3));
    coalescer.add('alice', at(9));
    coalescer.add('bob', at(4));
    t.mock.timers.tick(200);
    coalescer.add('alice', at(7));
    assert.deepEqual(inbox.writes, [], 'nothing written before the window ends');
    t.mock.timers.tick(WINDOW_MS - 200);
    await settle();
    assert.deepEqual(inbox.writes, [
      { feed: userFeedKeys('alice').meta, cursor: 'e1.9', heldMs: WINDOW_MS },
      { feed: userFeedKeys('bob').meta, cursor: 'e1.4', heldMs: WINDOW_MS },
    ]);
    assert.equal(metrics.acknowledged, 2);
    // The next window starts with the next acknowledgement.
    coalescer.add('alice', at(12));
    t.mock.timers.tick(WINDOW_MS);
    await settle();
    assert.equal(inbox.marks.get(userFeedKeys('alice').meta), 12);
    assert.deepEqual(metrics.refused, []);
  });

  it('writes the lower cursors on their own when the highest is refused, and another epoch at once; refusals are counted', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { coalescer, inbox, metrics } = setup();
    coalescer.add('alice', at(5));
    coalescer.add('alice', at(500));
    coalescer.add('alice', at(2, 'e0'));
    await settle();
    assert.deepEqual(
      inbox.writes.map((write) => write.cursor),
      ['e0.2'],
    );
    t.mock.timers.tick(WINDOW_MS);
    await settle();
    assert.deepEqual(
      inbox.writes.map((write) => write.cursor),
      ['e0.2', 'e1.500', 'e1.5'],
    );
    assert.equal(inbox.marks.get(userFeedKeys('alice').meta), 5, 'a bad cursor does not hide a good one');
    assert.deepEqual(metrics.refused, ['inbox.ack stale_cursor', 'inbox.ack stale_cursor']);
  });

  it('writes at once with a window of 0, writes what it holds when the gateway drains, and counts a store failure', async (t) => {
    const immediate = setup(0);
    immediate.coalescer.add('carol', at(1));
    await settle();
    assert.equal(immediate.inbox.marks.get(userFeedKeys('carol').meta), 1);

    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { coalescer, inbox, metrics } = setup();
    coalescer.add('dave', at(8));
    await coalescer.beforeApplicationShutdown();
    assert.equal(inbox.marks.get(userFeedKeys('dave').meta), 8);
    inbox.failing = true;
    coalescer.add('dave', at(9));
    await settle();
    assert.deepEqual(metrics.refused, ['inbox.ack unavailable'], 'straight through while draining, and a failure counted');
  });
});
