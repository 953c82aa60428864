/**
 * What a set of connections keeps alive: two V8 heap snapshots (before and after connecting) summed per
 * constructor / object kind, and their difference.
 */

export interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

export interface HeapGroup {
  name: string;
  count: number;
  bytes: number;
}

/** Object kinds whose names are contents or internal labels, grouped under one name each. */
const GROUPED_TYPES: Record<string, string> = {
  string: '(strings)',
  'concatenated string': '(strings)',
  'sliced string': '(strings)',
  code: '(compiled code)',
  number: '(heap numbers)',
  'object shape': '(object shapes)',
  bigint: '(bigints)',
  symbol: '(symbols)',
};

export function groupHeapSnapshot(snapshot: HeapSnapshot): Map<string, HeapGroup> {
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  if (typeAt < 0 || nameAt < 0 || sizeAt < 0) throw new Error('not a V8 heap snapshot (no type/name/self_size node fields)');
  const groups = new Map<string, HeapGroup>();
  for (let offset = 0; offset < snapshot.nodes.length; offset += fields.length) {
    const type = types[snapshot.nodes[offset + typeAt]] ?? 'unknown';
    const rawName = snapshot.strings[snapshot.nodes[offset + nameAt]] ?? '';
    const name = GROUPED_TYPES[type] ?? (type === 'object' ? rawName : `(${type}) ${rawName}`);
    const group = groups.get(name) ?? { name, count: 0, bytes: 0 };
    group.count++;
    group.bytes += snapshot.nodes[offset + sizeAt];
    groups.set(name, group);
  }
  return groups;
}

export interface HeapDiff {
  totalBytes: number;
  /** Growth of compiled code: JIT warm-up while the first connections came in, not a per-connection cost. */
  codeBytes: number;
  /** Largest growths first. */
  groups: HeapGroup[];
  /** Every group's change, for comparing two systems. */
  all: Map<string, HeapGroup>;
}

export function diffHeapSnapshots(before: HeapSnapshot, after: HeapSnapshot, top = 25): HeapDiff {
  const old = groupHeapSnapshot(before);
  const grown: HeapGroup[] = [];
  let totalBytes = 0;
  for (const group of groupHeapSnapshot(after).values()) {
    const previous = old.get(group.name);
    const change = { name: group.name, count: group.count - (previous?.count ?? 0), bytes: group.bytes - (previous?.bytes ?? 0) };
    totalBytes += change.bytes;
    grown.push(change);
  }
  for (const group of old.values()) if (!grown.some((entry) => entry.name === group.name)) totalBytes -= group.bytes;
  const all = new Map(grown.map((group) => [group.name, group]));
  return { totalBytes, codeBytes: all.get('(compiled code)')?.bytes ?? 0, groups: grown.sort((a, b) => b.bytes - a.bytes).slice(0, top), all };
}

/** Per connection, where one system's connections retain more than another's (largest differences first). */
export function compareHeapDiffs(first: HeapDiff, firstConnections: number, second: HeapDiff, secondConnections: number, top = 15): HeapGroup[] {
  const names = new Set([...first.all.keys(), ...second.all.keys()]);
  names.delete('(compiled code)');
  return [...names]
    .map((name) => ({
      name,
      count: (first.all.get(name)?.count ?? 0) / firstConnections - (second.all.get(name)?.count ?? 0) / secondConnections,
      bytes: (first.all.get(name)?.bytes ?? 0) / firstConnections - (second.all.get(name)?.bytes ?? 0) / secondConnections,
    }))
    .sort((a, b) => Math.abs(b.bytes) - Math.abs(a.bytes))
    .slice(0, top);
}

export function renderHeapDiff(diff: HeapDiff, connections: number): string {
  const per = (value: number): string => (connections > 0 ? (value / connections).toFixed(1) : '-');
  const kb = (bytes: number): string => (bytes / 1024 / Math.max(1, connections)).toFixed(2);
  return [
    `retained heap grew ${(diff.totalBytes / 1024).toFixed(0)} KB for ${connections} connections: ${kb(diff.totalBytes)} KB per connection, ` +
      `${kb(diff.totalBytes - diff.codeBytes)} KB without compiled code (JIT warm-up, not per connection)`,
    '',
    '  bytes/conn  objects/conn  kind (constructor, or (type) name)',
    ...diff.groups.map((group) => `  ${per(group.bytes).padStart(10)}  ${per(group.count).padStart(12)}  ${group.name}`),
  ].join('\n');
}
