import { crc32 } from 'node:zlib';
import { COMMAND_PARTITIONS, Patterns, commandPartitionStream } from '@herald/contracts';

/** The partition of a user's commands: CRC-32 of the id's UTF-8 bytes, modulo COMMAND_PARTITIONS (docs/protocol.md). */
export function commandPartition(userId: string): number {
  return crc32(userId) % COMMAND_PARTITIONS;
}

/** One XADD: which command stream, and the command to put in its `data` field. */
export interface CommandEntry {
  stream: string;
  data: unknown;
}

/**
 * Where a command goes so that each user's commands keep their order: `notify.user` to its user's partition;
 * `notify.users` split into one command per partition, each with the users of that partition and the same `id` (the
 * store deduplicates per user, so the parts together store exactly what the whole would); broadcasts, and anything the
 * gateways will reject anyway, to partition 0. A `notify.users` without an `id` is not split (each part would derive
 * a different id from its own content): it goes whole to its first user's partition.
 */
export function commandEntries(pattern: string, data: unknown): CommandEntry[] {
  const fields = typeof data === 'object' && data !== null && !Array.isArray(data) ? (data as Record<string, unknown>) : undefined;
  if (pattern === Patterns.NotifyUser && typeof fields?.['userId'] === 'string') {
    return [{ stream: commandPartitionStream(commandPartition(fields['userId'])), data }];
  }
  const userIds = fields?.['userIds'];
  if (pattern === Patterns.NotifyUsers && Array.isArray(userIds) && userIds.length > 0 && userIds.every((id) => typeof id === 'string')) {
    if (fields?.['id'] === undefined) return [{ stream: commandPartitionStream(commandPartition(userIds[0])), data }];
    const byPartition = new Map<number, string[]>();
    for (const userId of userIds) {
      const partition = commandPartition(userId);
      const group = byPartition.get(partition);
      if (group === undefined) byPartition.set(partition, [userId]);
      else group.push(userId);
    }
    return [...byPartition].map(([partition, ids]) => ({ stream: commandPartitionStream(partition), data: { ...fields, userIds: ids } }));
  }
  return [{ stream: commandPartitionStream(0), data }];
}
