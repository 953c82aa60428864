import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compareHeapDiffs, diffHeapSnapshots, groupHeapSnapshot, renderHeapDiff, type HeapSnapshot } from './heap-snapshot-diff.js';

const TYPES = ['hidden', 'array', 'string', 'object', 'code', 'closure'];
/** Nodes as [type, name, self_size] triples. */
const snapshot = (nodes: Array<[string, string, number]>): HeapSnapshot => {
  const strings = [...new Set(nodes.map(([, name]) => name))];
  return {
    snapshot: { meta: { node_fields: ['type', 'name', 'self_size'], node_types: [TYPES] } },
    nodes: nodes.flatMap(([type, name, size]) => [TYPES.indexOf(type), strings.indexOf(name), size]),
    strings,
  };
};

describe('heap snapshot diff', () => {
  const before = snapshot([
    ['object', 'Socket', 100],
    ['string', 'abc', 20],
    ['closure', 'onData', 32],
  ]);
  const after = snapshot([
    ['object', 'Socket', 100],
    ['object', 'Socket', 100],
    ['object', 'Socket', 100],
    ['string', 'abc', 20],
    ['string', 'user:1', 30],
    ['closure', 'onData', 32],
    ['object', 'Timeout', 80],
  ]);

  it('groups by constructor, and strings and other contents under one name', () => {
    const groups = groupHeapSnapshot(after);
    assert.deepEqual(groups.get('Socket'), { name: 'Socket', count: 3, bytes: 300 });
    assert.deepEqual(groups.get('(strings)'), { name: '(strings)', count: 2, bytes: 50 });
    assert.deepEqual(groups.get('(closure) onData'), { name: '(closure) onData', count: 1, bytes: 32 });
  });

  it('lists what grew, per connection', () => {
    const diff = diffHeapSnapshots(before, after);
    assert.equal(diff.totalBytes, 310);
    assert.deepEqual(diff.groups.slice(0, 3), [
      { name: 'Socket', count: 2, bytes: 200 },
      { name: 'Timeout', count: 1, bytes: 80 },
      { name: '(strings)', count: 1, bytes: 30 },
    ]);
    assert.match(renderHeapDiff(diff, 2), /^\s+100\.0\s+1\.0\s+Socket$/m);
  });

  it('compares two systems per connection, leaving compiled code out', () => {
    const lean = diffHeapSnapshots(
      before,
      snapshot([
        ['object', 'Socket', 100],
        ['object', 'Socket', 100],
        ['string', 'abc', 20],
        ['closure', 'onData', 32],
        ['code', 'f', 500],
      ]),
    );
    const heavy = diffHeapSnapshots(before, after);
    const extra = compareHeapDiffs(heavy, 1, lean, 1);
    assert.deepEqual(extra.slice(0, 3), [
      { name: 'Socket', count: 1, bytes: 100 },
      { name: 'Timeout', count: 1, bytes: 80 },
      { name: '(strings)', count: 1, bytes: 30 },
    ]);
    assert.ok(extra.every((group) => group.name !== '(compiled code)'));
  });

  it('refuses something that is not a heap snapshot', () => {
    assert.throws(() => groupHeapSnapshot({ snapshot: { meta: { node_fields: ['id'], node_types: [[]] } }, nodes: [], strings: [] }), /not a V8 heap snapshot/);
  });
});
