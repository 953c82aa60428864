/**
 * Summaries of V8 profiles: `.cpuprofile` (node --cpu-prof, cut to the load window) and `.heapprofile`
 * (sampling heap profiler, collected objects included), grouped by function and by package.
 */

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

export interface CpuProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface HeapProfileNode {
  callFrame: CallFrame;
  selfSize: number;
  id: number;
  children: HeapProfileNode[];
}

export interface HeapProfile {
  head: HeapProfileNode;
}

export interface Entry {
  name: string;
  value: number;
  share: number;
}

export interface CpuSummary {
  windowMs: number;
  /** Time on the CPU (everything but idle). */
  busyMs: number;
  idleMs: number;
  gcMs: number;
  topSelf: Entry[];
  topInclusive: Entry[];
  byPackage: Entry[];
  /** Inclusive time of chosen functions (by function name, every file), in the order asked. */
  focus: Entry[];
}

export interface HeapSummary {
  totalBytes: number;
  topSelf: Entry[];
  byPackage: Entry[];
}

const SPECIAL = new Set(['(root)', '(program)', '(idle)', '(garbage collector)']);

/** Where a frame's code comes from: an npm package, node core, Herald, or V8 itself. */
export function packageOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (SPECIAL.has(functionName)) return functionName;
  if (url === '') return '(v8 builtins and natives)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (url.startsWith('node:')) return 'node core';
  if (url.includes('/dist/apps/gateway/')) return 'herald gateway';
  if (url.includes('/dist/libs/')) return 'herald libs';
  if (url.includes('/dist/bench/')) return 'bench probe';
  return url;
}

/** A readable key: function name, file (shortened to its package path) and line. */
export function frameName(frame: CallFrame): string {
  if (SPECIAL.has(frame.functionName)) return frame.functionName;
  const name = frame.functionName || '(anonymous)';
  if (frame.url === '') return `${name} [native]`;
  const modules = frame.url.lastIndexOf('/node_modules/');
  const file =
    modules >= 0
      ? frame.url.slice(modules + '/node_modules/'.length)
      : frame.url.includes('/dist/')
        ? frame.url.slice(frame.url.indexOf('/dist/') + 1)
        : frame.url.replace(/^file:\/\//, '');
  return `${name} ${file}:${frame.lineNumber + 1}`;
}

const toEntries = (totals: Map<string, number>, base: number, top: number): Entry[] =>
  [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([name, value]) => ({ name, value, share: base > 0 ? value / base : 0 }));

const add = (totals: Map<string, number>, key: string, value: number): void => {
  totals.set(key, (totals.get(key) ?? 0) + value);
};

/**
 * Self and inclusive time per function, restricted to [startUs, endUs] when given (cpuprofile timestamps are
 * `process.hrtime` microseconds, which the instance probe reports at the start and end of a run).
 */
export function summarizeCpuProfile(profile: CpuProfile, window?: { startUs: number; endUs: number }, top = 25, focus: readonly string[] = []): CpuSummary {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parents = new Map<number, CpuProfileNode>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parents.set(child, node);

  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const packages = new Map<string, number>();
  const focused = new Map<string, number>(focus.map((name) => [name, 0]));
  let windowUs = 0;
  let idleUs = 0;
  let gcUs = 0;
  let timestamp = profile.startTime;
  for (let index = 0; index < profile.samples.length; index++) {
    timestamp += profile.timeDeltas[index] ?? 0;
    // A sample stands for the time until the next one.
    const duration = index + 1 < profile.samples.length ? (profile.timeDeltas[index + 1] ?? 0) : 0;
    if (window && (timestamp < window.startUs || timestamp > window.endUs)) continue;
    const node = nodes.get(profile.samples[index]);
    if (!node) continue;
    windowUs += duration;
    const name = node.callFrame.functionName;
    if (name === '(idle)') {
      idleUs += duration;
      continue;
    }
    if (name === '(garbage collector)') gcUs += duration;
    add(self, frameName(node.callFrame), duration);
    add(packages, packageOf(node.callFrame), duration);
    const seen = new Set<string>();
    const seenFocus = new Set<string>();
    for (let current: CpuProfileNode | undefined = node; current !== undefined; current = parents.get(current.id)) {
      const frame = current.callFrame;
      if (SPECIAL.has(frame.functionName)) continue;
      if (focused.has(frame.functionName) && !seenFocus.has(frame.functionName)) {
        seenFocus.add(frame.functionName);
        add(focused, frame.functionName, duration);
      }
      const key = frameName(frame);
      if (seen.has(key)) continue; // recursion counts once
      seen.add(key);
      add(inclusive, key, duration);
    }
  }
  const busyUs = windowUs - idleUs;
  return {
    windowMs: windowUs / 1000,
    busyMs: busyUs / 1000,
    idleMs: idleUs / 1000,
    gcMs: gcUs / 1000,
    topSelf: toEntries(self, busyUs, top).map((entry) => ({ ...entry, value: entry.value / 1000 })),
    topInclusive: toEntries(inclusive, busyUs, top).map((entry) => ({ ...entry, value: entry.value / 1000 })),
    byPackage: toEntries(packages, busyUs, top).map((entry) => ({ ...entry, value: entry.value / 1000 })),
    focus: focus.map((name) => ({ name, value: (focused.get(name) ?? 0) / 1000, share: busyUs > 0 ? (focused.get(name) ?? 0) / busyUs : 0 })),
  };
}

/** Bytes allocated per function and package over the sampling period (collected objects included). */
export function summarizeHeapProfile(profile: HeapProfile, top = 25): HeapSummary {
  const self = new Map<string, number>();
  const packages = new Map<string, number>();
  let total = 0;
  const stack: HeapProfileNode[] = [profile.head];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (node.selfSize > 0) {
      total += node.selfSize;
      add(self, frameName(node.callFrame), node.selfSize);
      add(packages, packageOf(node.callFrame), node.selfSize);
    }
    stack.push(...node.children);
  }
  return { totalBytes: total, topSelf: toEntries(self, total, top), byPackage: toEntries(packages, total, top) };
}

const percent = (share: number): string => `${(share * 100).toFixed(1)}%`;

export function renderCpuSummary(summary: CpuSummary, perUnit?: { label: string; count: number }): string {
  const lines = [
    `window ${summary.windowMs.toFixed(0)} ms: busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms, GC ${summary.gcMs.toFixed(0)} ms` +
      (perUnit && perUnit.count > 0 ? `; ${((summary.busyMs * 1000) / perUnit.count).toFixed(1)} us busy per ${perUnit.label}` : ''),
    '',
    'self time by package (% of busy):',
    ...summary.byPackage.map((entry) => `  ${percent(entry.share).padStart(6)}  ${entry.value.toFixed(0).padStart(6)} ms  ${entry.name}`),
    '',
    'top self time (% of busy):',
    ...summary.topSelf.map((entry) => `  ${percent(entry.share).padStart(6)}  ${entry.value.toFixed(0).padStart(6)} ms  ${entry.name}`),
    '',
    'top inclusive time (% of busy):',
    ...summary.topInclusive.map((entry) => `  ${percent(entry.share).padStart(6)}  ${entry.value.toFixed(0).padStart(6)} ms  ${entry.name}`),
  ];
  if (summary.focus.length > 0) {
    lines.push('', 'delivery path, inclusive time of selected functions (% of busy' + (perUnit ? `, us per ${perUnit.label}` : '') + '):');
    for (const entry of summary.focus) {
      const per = perUnit && perUnit.count > 0 ? `  ${((entry.value * 1000) / perUnit.count).toFixed(1).padStart(6)} us` : '';
      lines.push(`  ${percent(entry.share).padStart(6)}  ${entry.value.toFixed(0).padStart(6)} ms${per}  ${entry.name}`);
    }
  }
  return lines.join('\n');
}

export function renderHeapSummary(summary: HeapSummary, perUnit?: { label: string; count: number }): string {
  const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
  return [
    `allocated ${mb(summary.totalBytes)} (sampled)` +
      (perUnit && perUnit.count > 0 ? `; ${(summary.totalBytes / perUnit.count).toFixed(0)} bytes per ${perUnit.label}` : ''),
    '',
    'allocations by package:',
    ...summary.byPackage.map((entry) => `  ${percent(entry.share).padStart(6)}  ${mb(entry.value).padStart(9)}  ${entry.name}`),
    '',
    'top allocating functions:',
    ...summary.topSelf.map((entry) => `  ${percent(entry.share).padStart(6)}  ${mb(entry.value).padStart(9)}  ${entry.name}`),
  ].join('\n');
}
