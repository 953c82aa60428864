import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import { ExpiryScheduler } from './expiry-scheduler.js';

interface Session {
  name: string;
  expiresAt: number;
}

const START = Date.UTC(2026, 0, 1, 12, 0, 0); // a whole second

describe('ExpiryScheduler', () => {
  let expired: string[];
  let errors: string[];
  let scheduler: ExpiryScheduler<Session>;
  const session = (name: string, expiresAt: number): Session => ({ name, expiresAt });

  beforeEach(() => {
    mock.timers.enable({ apis: ['setTimeout', 'Date'], now: START });
    expired = [];
    errors = [];
    scheduler = new ExpiryScheduler<Session>(
      (item) => item.expiresAt,
      (item) => {
        if (item.name.startsWith('throws')) throw new Error(`cannot end ${item.name}`);
        expired.push(item.name);
      },
      (error, item) => errors.push(`${item.name}: ${String(error)}`),
    );
  });
  afterEach(() => mock.timers.reset());

  it('ends each item once, at its expiry second and not before', () => {
    scheduler.schedule(session('a', START + 2000));
    scheduler.schedule(session('b', START + 5000));
    mock.timers.tick(1999);
    assert.deepEqual(expired, []);
    mock.timers.tick(1);
    assert.deepEqual(expired, ['a']);
    mock.timers.tick(2999);
    assert.deepEqual(expired, ['a']);
    mock.timers.tick(1);
    assert.deepEqual(expired, ['a', 'b']);
    mock.timers.tick(60_000);
    assert.deepEqual(expired, ['a', 'b'], 'nothing fires twice');
    assert.equal(scheduler.size, 0);
  });

  it('rounds a fractional expiry up to the next second: never early, at most a second late', () => {
    scheduler.schedule(session('a', START + 1001));
    mock.timers.tick(1001);
    assert.deepEqual(expired, []);
    mock.timers.tick(998);
    assert.deepEqual(expired, []);
    mock.timers.tick(1);
    assert.deepEqual(expired, ['a']);
  });

  it('shares one timer between the items of a second', () => {
    const setTimeoutCalls = mock.method(globalThis, 'setTimeout');
    // Expiries spread over (2 s, 3 s]: one bucket, due at 3 s.
    for (let i = 0; i < 100; i++) scheduler.schedule(session(`s${i}`, START + 2001 + i * 9));
    assert.equal(setTimeoutCalls.mock.callCount(), 1, '100 items due within one second arm one timer');
    assert.equal(scheduler.size, 100);
    mock.timers.tick(3000);
    assert.equal(expired.length, 100);
    setTimeoutCalls.mock.restore();
  });

  it('cancels an item; a bucket left empty stops its timer', () => {
    const kept = session('kept', START + 1000);
    const gone = session('gone', START + 1000);
    const alone = session('alone', START + 4000);
    for (const item of [kept, gone, alone]) scheduler.schedule(item);
    scheduler.cancel(gone);
    scheduler.cancel(alone);
    scheduler.cancel(session('never-scheduled', START + 1000));
    assert.equal(scheduler.size, 1);
    mock.timers.tick(10_000);
    assert.deepEqual(expired, ['kept']);
  });

  it('ends an item already expired when scheduled at once (on the next tick)', () => {
    scheduler.schedule(session('late', START - 60_000));
    assert.deepEqual(expired, []);
    mock.timers.tick(0);
    assert.deepEqual(expired, ['late']);
  });

  it('an item cancelled from inside onExpired (a disconnect handler) does not disturb the bucket', () => {
    const items = [session('x', START + 1000), session('y', START + 1000)];
    const cancelling = new ExpiryScheduler<Session>(
      (item) => item.expiresAt,
      (item) => {
        expired.push(item.name);
        for (const other of items) cancelling.cancel(other);
      },
      () => undefined,
    );
    for (const item of items) cancelling.schedule(item);
    mock.timers.tick(1000);
    assert.deepEqual(expired, ['x', 'y']);
  });

  it('reports a failing onExpired and still ends the rest of the bucket', () => {
    for (const name of ['a', 'throws-b', 'c']) scheduler.schedule(session(name, START + 1000));
    mock.timers.tick(1000);
    assert.deepEqual(expired, ['a', 'c']);
    assert.deepEqual(errors, ['throws-b: Error: cannot end throws-b']);
  });

  it('waits out expiries beyond what one timer can hold (2^31-1 ms) without firing early', () => {
    const farAway = START + 30 * 24 * 3600 * 1000; // 30 days
    scheduler.schedule(session('far', farAway));
    mock.timers.tick(2 ** 31 - 1);
    assert.deepEqual(expired, [], 'the first timer only re-arms');
    mock.timers.tick(farAway - Date.now() - 1);
    assert.deepEqual(expired, []);
    mock.timers.tick(1);
    assert.deepEqual(expired, ['far']);
  });
});
