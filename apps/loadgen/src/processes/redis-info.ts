/**
 * What a system costs in Redis: INFO (memory, cpu, commandstats) before and after a run, and what the keys it keeps
 * take (MEMORY USAGE). Parsing and arithmetic only; bench-session.ts asks Redis.
 */

export interface RedisInfoSample {
  /** `used_memory`: bytes the allocator holds for data, buffers and overhead. */
  usedMemory: number;
  /** `used_memory_peak`: the most it ever held (since Redis started). */
  usedMemoryPeak: number;
  /** `used_cpu_sys` + `used_cpu_user`: the whole redis-server process, seconds. */
  cpuSeconds: number;
  /** `cmdstat_<name>`: calls and microseconds spent executing, per command (calls from scripts included). */
  commands: Record<string, { calls: number; usec: number }>;
}

/** Parses the text of `INFO memory cpu commandstats` (any sections; unknown lines are ignored). */
export function parseRedisInfo(text: string): RedisInfoSample {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0 || line.startsWith('#')) continue;
    fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  const number = (name: string): number => {
    const value = Number(fields.get(name));
    return Number.isFinite(value) ? value : 0;
  };
  const commands: RedisInfoSample['commands'] = {};
  for (const [name, value] of fields) {
    if (!name.startsWith('cmdstat_')) continue;
    const stats = Object.fromEntries(value.split(',').map((pair) => pair.split('=') as [string, string]));
    commands[name.slice('cmdstat_'.length)] = { calls: Number(stats['calls'] ?? 0), usec: Number(stats['usec'] ?? 0) };
  }
  return { usedMemory: number('used_memory'), usedMemoryPeak: number('used_memory_peak'), cpuSeconds: number('used_cpu_sys') + number('used_cpu_user'), commands };
}

export interface RedisCommandCost {
  command: string;
  calls: number;
  usec: number;
  callsPerNotification: number;
  usPerNotification: number;
}

/** Redis figures of one run, per notification published. */
export interface RedisRunFigures {
  cpuSeconds: number;
  cpuUsPerNotification: number;
  usedMemoryDeltaBytes: number;
  /** Redis' peak memory after the run (since it started): a jump shows a burst, e.g. replies to a storm of replays. */
  usedMemoryPeakBytes: number;
  /** The run's growth of used_memory per notification: what storing costs while nothing is trimmed yet. */
  memoryBytesPerNotification: number;
  /** Every command that ran during the run, by time spent, largest first. */
  commands: RedisCommandCost[];
}

export function redisRunFigures(before: RedisInfoSample, after: RedisInfoSample, notifications: number): RedisRunFigures {
  const per = (value: number): number => (notifications > 0 ? value / notifications : 0);
  const commands: RedisCommandCost[] = [];
  for (const [command, end] of Object.entries(after.commands)) {
    const start = before.commands[command] ?? { calls: 0, usec: 0 };
    const calls = end.calls - start.calls;
    const usec = end.usec - start.usec;
    // INFO itself (the harness asking) is not the system's cost.
    if (calls <= 0 || command === 'info') continue;
    commands.push({ command, calls, usec, callsPerNotification: per(calls), usPerNotification: per(usec) });
  }
  commands.sort((a, b) => b.usec - a.usec);
  const cpuSeconds = after.cpuSeconds - before.cpuSeconds;
  const usedMemoryDeltaBytes = after.usedMemory - before.usedMemory;
  return {
    cpuSeconds,
    cpuUsPerNotification: per(cpuSeconds * 1e6),
    usedMemoryDeltaBytes,
    usedMemoryPeakBytes: after.usedMemoryPeak,
    memoryBytesPerNotification: per(usedMemoryDeltaBytes),
    commands,
  };
}

/** What a system keeps in Redis at a moment: every key's MEMORY USAGE, and the entries of its streams. */
export interface RedisStorageFigures {
  usedMemory: number;
  keys: number;
  /** Sum of MEMORY USAGE (all samples) over every key. */
  keyBytes: number;
  /** Entries of every stream key: stored notifications (Herald's feeds, the streams adapter's stream). */
  streamEntries: number;
  /** keyBytes / streamEntries: what the system keeps per retained notification, overhead included. */
  bytesPerStreamEntry?: number;
  /** Key count and bytes by key shape (digits and user ids folded), largest first. */
  byShape: Array<{ shape: string; keys: number; bytes: number; entries: number }>;
}

/** `herald:{u:bench-user-17}:log` -> `herald:{u:*}:log`; `sio:session:abc` -> `sio:session:*`. */
export function keyShape(key: string): string {
  return key.replace(/\{u:[^}]*\}/, '{u:*}').replace(/^(sio:session:).*/, '$1*');
}

export function storageFigures(usedMemory: number, keys: ReadonlyArray<{ key: string; bytes: number; entries: number }>): RedisStorageFigures {
  const shapes = new Map<string, { shape: string; keys: number; bytes: number; entries: number }>();
  let keyBytes = 0;
  let streamEntries = 0;
  for (const { key, bytes, entries } of keys) {
    keyBytes += bytes;
    streamEntries += entries;
    const shape = keyShape(key);
    const entry = shapes.get(shape) ?? { shape, keys: 0, bytes: 0, entries: 0 };
    entry.keys++;
    entry.bytes += bytes;
    entry.entries += entries;
    shapes.set(shape, entry);
  }
  return {
    usedMemory,
    keys: keys.length,
    keyBytes,
    streamEntries,
    bytesPerStreamEntry: streamEntries > 0 ? keyBytes / streamEntries : undefined,
    byShape: [...shapes.values()].sort((a, b) => b.bytes - a.bytes),
  };
}
