import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareCursors } from './cursor-order.js';

describe('compareCursors', () => {
  it('orders positions of one feed incarnation, numerically', () => {
    assert.ok((compareCursors('e1.9', 'e1.10') ?? 0) < 0);
    assert.ok((compareCursors('e1.10', 'e1.9') ?? 0) > 0);
    assert.equal(compareCursors('e1.7', 'e1.7'), 0);
  });

  it('does not compare across incarnations, nor what is not a cursor', () => {
    assert.equal(compareCursors('e1.1', 'e2.5'), undefined);
    assert.equal(compareCursors('garbage', 'e1.1'), undefined);
  });
});
