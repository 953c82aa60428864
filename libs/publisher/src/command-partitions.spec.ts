import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMAND_PARTITIONS, Patterns, commandPartitionStream } from '@herald/contracts';
import { commandEntries, commandPartition } from './command-partitions.js';

describe('command partitions', () => {
  it('is CRC-32 (IEEE, as zlib, Python and Go compute it) of the UTF-8 user id, modulo the partition count', () => {
    // Reference values from Python's zlib.crc32: what a publisher in another language must compute.
    assert.equal(COMMAND_PARTITIONS, 8);
    assert.equal(commandPartition('42'), 0x3224b088 % 8);
    assert.equal(commandPartition('user-1'), 0x7e264614 % 8);
    assert.equal(commandPartition('ünïcode'), 0x0ec954aa % 8);
  });

  it("sends notify.user to its user's partition, and broadcasts and the unroutable to partition 0", () => {
    assert.deepEqual(commandEntries(Patterns.NotifyUser, { userId: '42', data: 1 }), [
      { stream: commandPartitionStream(commandPartition('42')), data: { userId: '42', data: 1 } },
    ]);
    assert.deepEqual(commandEntries(Patterns.NotifyBroadcast, { data: 1 }), [{ stream: commandPartitionStream(0), data: { data: 1 } }]);
    assert.deepEqual(commandEntries(Patterns.NotifyUser, 'nonsense'), [{ stream: commandPartitionStream(0), data: 'nonsense' }]);
  });

  it('splits notify.users per partition, each part with the same id and only its own users, every user once', () => {
    const userIds = Array.from({ length: 50 }, (_, n) => `u${n}`);
    const entries = commandEntries(Patterns.NotifyUsers, { userIds, id: 'n-1', type: 't', data: { x: 1 } });
    assert.equal(entries.length, new Set(userIds.map(commandPartition)).size);
    const seen: string[] = [];
    for (const entry of entries) {
      const part = entry.data as { userIds: string[]; id: string; type: string; data: unknown };
      assert.deepEqual({ ...part, userIds: [] }, { userIds: [], id: 'n-1', type: 't', data: { x: 1 } });
      for (const userId of part.userIds) assert.equal(entry.stream, commandPartitionStream(commandPartition(userId)));
      seen.push(...part.userIds);
    }
    assert.deepEqual(seen.sort(), [...userIds].sort());
  });

  it('keeps a notify.users without an id whole, in its first user’s partition (parts would derive different ids)', () => {
    const command = { userIds: ['a', 'b', 'c', 'd'], data: null };
    assert.deepEqual(commandEntries(Patterns.NotifyUsers, command), [{ stream: commandPartitionStream(commandPartition('a')), data: command }]);
  });
});
