import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeliveryLedger, expectedFor } from './delivery-ledger.js';

describe('expectedFor', () => {
  it('counts the published sequence numbers that target the user', () => {
    // users = 3: user 1 gets 1, 4, 7 of 0..7
    assert.equal(expectedFor(1, 3, 8), 3);
    assert.equal(expectedFor(2, 3, 8), 2);
    assert.equal(expectedFor(0, 3, 1), 1);
    assert.equal(expectedFor(1, 3, 1), 0);
    assert.equal(expectedFor(0, 3, 0), 0);
  });
});

describe('DeliveryLedger', () => {
  it('reports nothing lost when every expected number arrived once, in any order', () => {
    const ledger = new DeliveryLedger(1, 3, 1);
    for (const seq of [7, 1, 4]) assert.equal(ledger.record(seq), 'first');
    assert.deepEqual(ledger.summary(8), { expected: 3, received: 3, lost: 0, duplicates: 0, misdelivered: 0 });
  });

  it('counts losses and every extra copy', () => {
    const ledger = new DeliveryLedger(0, 2);
    ledger.record(0);
    assert.equal(ledger.record(0), 'duplicate');
    ledger.record(0);
    ledger.record(4);
    assert.deepEqual(ledger.summary(6), { expected: 3, received: 2, lost: 1, duplicates: 2, misdelivered: 0 });
    assert.equal(ledger.receivedDistinct, 2);
  });

  it('flags notifications of other users and numbers that were never published', () => {
    const ledger = new DeliveryLedger(0, 2);
    assert.equal(ledger.record(3), 'misdelivered');
    assert.equal(ledger.record(-2), 'misdelivered');
    assert.equal(ledger.record(1.5), 'misdelivered');
    ledger.record(10); // in the user's sequence, but beyond what was published
    assert.deepEqual(ledger.summary(4), { expected: 2, received: 0, lost: 2, duplicates: 0, misdelivered: 4 });
  });

  it('grows past its initial capacity and keeps counting duplicates beyond 255 copies', () => {
    const ledger = new DeliveryLedger(0, 1, 1);
    for (let seq = 0; seq < 1000; seq++) ledger.record(seq);
    for (let copy = 0; copy < 300; copy++) ledger.record(999);
    assert.deepEqual(ledger.summary(1000), { expected: 1000, received: 1000, lost: 0, duplicates: 300, misdelivered: 0 });
  });
});
