import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { userFeedKeys, type FeedKeys, type FeedPosition } from '@herald/contracts';
import { loadConfig } from '../config/app-config.js';
import { DeliveryAckCoalescer } from './delivery-ack-coalescer.js';
import type { AckResult, InboxState } from './inbox-store.js';

/** An inbox whose delivered mark is a number per feed, as the ACK script keeps it: what the coalescer writes, in order. */
class FakeInbox {
  readonly writes: Array<{ user: string; cursor: string }> = [];
  readonly marks = new Map<string, number>();
  head = 100;

  acknowledge(feed: FeedKeys, position: FeedPosition): Promise<AckResult> {
    this.writes.push({ user: feed.meta, cursor: `${position.epoch}.${position.seq}` });
    if (position.epoch !== 'e1' || position.seq > this.head) return Promise.resolve({ outcome: 'stale' });
    if (position.seq <= (this.marks.get(feed.meta) ?? 0)) return Promise.resolve({ outcome: 'unchanged' });
    this.marks.set(feed.meta, position.seq);
    return Promise.resolve({ outcome: 'advanced', ageMs: 5 });
  }
}

const WINDOW_MS = 1000;

function setup(windowMs = WINDOW_MS): { coalescer: DeliveryAckCoalescer; inbox: FakeInbox } {
  const inbox = new FakeInbox();
  const config = loadConfig({ JWT_SECRET: 'unit-test-secret-0123456789', INBOX_ACK_COALESCE_MS: String(windowMs) });
  return { coalescer: new DeliveryAckCoalescer(inbox as unknown as InboxState, config), inbox };
}

const at = (seq: number, epoch = 'e1'): FeedPosition => ({ epoch, seq });

describe('DeliveryAckCoalescer', () => {
  it("writes a user's acknowledgements of one window as one, the highest; each gets its own outcome", async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { coalescer, inbox } = setup();
    const [alice, bob] = [userFeedKeys('alice'), userFeedKeys('bob')];
    const outcomes = [
      coalescer.acknowledge('alice', at(3)),
      coalescer.acknowledge('alice', at(9)),
      coalescer.acknowledge('bob', at(4)),
      coalescer.acknowledge('alice', at(7)),
    ];
    assert.deepEqual(inbox.writes, [], 'nothing written before the window ends');
    t.mock.timers.tick(WINDOW_MS);
    assert.deepEqual(await Promise.all(outcomes), [
      { outcome: 'unchanged' },
      { outcome: 'advanced', ageMs: 5 },
      { outcome: 'advanced', ageMs: 5 },
      { outcome: 'unchanged' },
    ]);
    assert.deepEqual(inbox.writes, [
      { user: alice.meta, cursor: 'e1.9' },
      { user: bob.meta, cursor: 'e1.4' },
    ]);
    // The next window starts with the next acknowledgement.
    const next = coalescer.acknowledge('alice', at(12));
    t.mock.timers.tick(WINDOW_MS);
    assert.deepEqual(await next, { outcome: 'advanced', ageMs: 5 });
    assert.equal(inbox.marks.get(alice.meta), 12);
  });

  it('writes the lower cursors on their own when the highest is refused, and another epoch at once', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout'] });
    const { coalescer, inbox } = setup();
    const alice = userFeedKeys('alice');
    const good = coalescer.acknowledge('alice', at(5));
    const beyondHead = coalescer.acknowledge('alice', at(500));
    const otherEpoch = await coalescer.acknowledge('alice', at(2, 'e0'));
    assert.deepEqual(otherEpoch, { outcome: 'stale' });
    assert.deepEqual(inbox.writes, [{ user: alice.meta, cursor: 'e0.2' }]);
    t.mock.timers.tick(WINDOW_MS);
    assert.deepEqual(await Promise.all([good, beyondHead]), [{ outcome: 'advanced', ageMs: 5 }, { outcome: 'stale' }]);
    assert.equal(inbox.marks.get(alice.meta), 5, 'a bad cursor does not hide a good one');
  });

  it('writes at once with a window of 0, and writes what it holds when the gateway drains', async () => {
    const immediate = setup(0);
    assert.deepEqual(await immediate.coalescer.acknowledge('carol', at(1)), { outcome: 'advanced', ageMs: 5 });
    const { coalescer, inbox } = setup();
    const held = coalescer.acknowledge('dave', at(8));
    await coalescer.beforeApplicationShutdown();
    assert.deepEqual(await held, { outcome: 'advanced', ageMs: 5 });
    assert.deepEqual(await coalescer.acknowledge('dave', at(9)), { outcome: 'advanced', ageMs: 5 }, 'straight through while draining');
    assert.equal(inbox.writes.length, 2);
  });
});
