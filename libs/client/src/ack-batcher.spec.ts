import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { AckBatcher } from './ack-batcher.js';

describe('AckBatcher', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout', 'Date'] }));
  afterEach(() => mock.timers.reset());

  const batcher = (connected: { value: boolean } = { value: true }, random = () => 0) => {
    const sent: Array<{ cursor: string; at: number }> = [];
    const acks = new AckBatcher(
      (cursor) => {
        if (!connected.value) return false;
        sent.push({ cursor, at: Date.now() });
        return true;
      },
      250,
      () => Date.now(),
      random,
    );
    return { acks, sent };
  };

  /** Millisecond by millisecond, so that each timer sees its own time. */
  const advance = (ms: number): void => {
    for (let step = 0; step < ms; step++) mock.timers.tick(1);
  };

  it('spreads the sends of devices that processed the same notification at once over half an interval', () => {
    const devices = [0, 0.5, 0.99].map((draw) => batcher({ value: true }, () => draw));
    for (const { acks } of devices) acks.processed('e.1');
    mock.timers.tick(0);
    advance(1000);
    assert.deepEqual(
      devices.map(({ sent }) => sent.map(({ at }) => at)),
      [[0], [62], [123]],
    );
    // Later sends too: the interval plus the device's own extra.
    for (const { acks } of devices) acks.processed('e.2');
    mock.timers.tick(0);
    advance(1000);
    assert.deepEqual(
      devices.map(({ sent }) => sent[1]?.at),
      [1000, 1062, 1123],
    );
  });

  it('sends the highest cursor of a burst once, then at most one per interval, only when it moved', () => {
    const { acks, sent } = batcher();
    for (let seq = 1; seq <= 100; seq++) acks.processed(`e.${seq}`);
    mock.timers.tick(0);
    assert.deepEqual(sent, [{ cursor: 'e.100', at: 0 }]);

    mock.timers.tick(10);
    acks.processed('e.101');
    mock.timers.tick(200);
    assert.equal(sent.length, 1, 'within the interval');
    acks.processed('e.102');
    mock.timers.tick(40);
    assert.deepEqual(sent.at(-1), { cursor: 'e.102', at: 250 });

    mock.timers.tick(10_000);
    assert.equal(sent.length, 2, 'nothing moved, nothing sent');
  });

  it('keeps a cursor it could not send for resume(), and flush() sends at once', () => {
    const connected = { value: false };
    const { acks, sent } = batcher(connected);
    acks.processed('e.1');
    mock.timers.tick(1000);
    assert.equal(sent.length, 0);
    connected.value = true;
    acks.resume();
    mock.timers.tick(0);
    assert.deepEqual(sent, [{ cursor: 'e.1', at: 1000 }]);

    acks.processed('e.2');
    acks.flush();
    assert.deepEqual(sent.at(-1), { cursor: 'e.2', at: 1000 }, 'on close, whatever the interval');
    acks.flush();
    assert.equal(sent.length, 2);
  });
});
