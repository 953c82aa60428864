import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { LoadgenOptions } from '../config/loadgen-options.js';
import { BenchSession, type Log } from '../runner/bench-session.js';
import { compareHeapDiffs, diffHeapSnapshots, renderHeapDiff, type HeapDiff, type HeapSnapshot } from './heap-snapshot-diff.js';
import type { SystemName } from '../runner/sweep-planner.js';
import { renderRuns } from '../report/report-table.js';
import { renderCpuSummary, renderHeapSummary, summarizeCpuProfile, summarizeHeapProfile, type CpuProfile, type HeapProfile } from './profile-summary.js';

/**
 * Functions on Herald's delivery path (and the baseline's) whose inclusive cost the summary lists: the transport (Nest's
 * microservice pipeline before phase 2, the direct road after), validation, envelope building, metrics, socket.io
 * encoding and writing, logging. Names of both phases are kept so old and new profiles read alike.
 */
const FOCUS = [
  'handleMessage',
  'dispatch',
  'parseMessage',
  'deserialize',
  'handleEvent',
  'getHandlerByPattern',
  'getRouteFromPattern',
  'runWithProcessingHooks',
  'transformToObservable',
  'intercept',
  'pipesFn',
  'notifyUser',
  'handle',
  'validate',
  'fastCheck',
  'safeParse',
  'stringify',
  'buildEnvelope',
  'deriveNotificationId',
  'toISOString',
  'localSocketsOfUser',
  'sendToUser',
  'sendToUsers',
  'countLocal',
  'get local',
  'commandReceived',
  'delivered',
  'emit',
  'broadcast',
  'encode',
  'encodeAsString',
  'hasBinary',
  'writeToEngine',
  'sendFrame',
  'writev',
  'debug',
  'onmessage',
  'decode',
];

// Finer than V8's default 32 KB so per-message allocations of a few hundred bytes are sampled often enough.
const HEAP_SAMPLING_BYTES = 16 * 1024;

const isCpuProfile = (value: unknown): value is CpuProfile =>
  typeof value === 'object' && value !== null && Array.isArray((value as CpuProfile).nodes) && Array.isArray((value as CpuProfile).samples);
const isHeapProfile = (value: unknown): value is HeapProfile => typeof value === 'object' && value !== null && 'head' in value;

/** `--analyze FILE`: summarises a whole profile (no window). */
export function analyzeProfileFile(file: string, text: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${file} is not JSON: expected a .cpuprofile or .heapprofile`);
  }
  if (isCpuProfile(parsed)) return renderCpuSummary(summarizeCpuProfile(parsed, undefined, 25, FOCUS));
  if (isHeapProfile(parsed)) return renderHeapSummary(summarizeHeapProfile(parsed));
  throw new Error(`${file} is neither a .cpuprofile nor a .heapprofile`);
}

/**
 * `--profile`: one run at a fixed rate with every instance under `--cpu-prof` and the sampling heap profiler;
 * the CPU profile is cut to the load window (the probe reports its hrtime at both ends), so boot and
 * connection set-up do not dilute the delivery path.
 */
export async function profileSession(options: LoadgenOptions, log: Log): Promise<void> {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const dir = join(options.outDir, 'profiles', stamp);
  await mkdir(dir, { recursive: true });
  const windows = new Map<string, { startUs: number; endUs: number }>();
  const snapshotConnections = new Map<SystemName, number>();
  // Instance 0 of each system: enough to see what one connection keeps alive.
  const snapshot = (system: SystemName, moment: 'before' | 'after') => join(dir, `${system}-0-${moment}-connect.heapsnapshot`);
  const rate = options.rates[0];
  const session = await BenchSession.open({ ...options, rates: [rate] }, log, {
    nodeFlagsFor: (system: SystemName, index: number) => ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${system}-${index}.cpuprofile`],
    beforeConnect: async (target) => {
      if (!options.heapSnapshots) return;
      await target.instances[0]?.process?.probe({ op: 'heap-snapshot', file: snapshot(target.system, 'before') }, 120_000);
    },
    afterConnect: async (target, connections) => {
      if (!options.heapSnapshots) return;
      await target.instances[0]?.process?.probe({ op: 'heap-snapshot', file: snapshot(target.system, 'after') }, 120_000);
      snapshotConnections.set(target.system, connections[0] ?? 0);
    },
    beforeLoad: async (target) => {
      await Promise.all(
        target.instances.flatMap((instance) => (instance.process ? [instance.process.probe({ op: 'heap-start', samplingIntervalBytes: HEAP_SAMPLING_BYTES })] : [])),
      );
    },
    afterLoad: async (target, runWindows) => {
      await Promise.all(
        target.instances.flatMap((instance, index) =>
          instance.process ? [instance.process.probe({ op: 'heap-stop', file: join(dir, `${target.system}-${index}.heapprofile`) })] : [],
        ),
      );
      runWindows.forEach((window, index) => {
        if (window) windows.set(`${target.system}-${index}`, window);
      });
    },
  });
  const runs = [];
  try {
    for (const system of options.systems) {
      log(`profiling ${system} at ${rate}/s for ${options.durationSeconds} s`);
      runs.push(await session.run(system, rate, 'fixed'));
    }
  } finally {
    // Stopping the instances is what writes their .cpuprofile files.
    await session.close();
  }
  const sections: string[] = [`# Profile at ${rate} notify.user/s for ${options.durationSeconds} s`, '', '```', renderRuns(runs), '```'];
  const diffs = new Map<SystemName, { diff: HeapDiff; connections: number }>();
  for (const [system, connections] of snapshotConnections) {
    const read = async (moment: 'before' | 'after') => JSON.parse(await readFile(snapshot(system, moment), 'utf8')) as HeapSnapshot;
    const diff = diffHeapSnapshots(await read('before'), await read('after'));
    diffs.set(system, { diff, connections });
    sections.push('', `## ${system}-0: heap retained by idle connections`, '', '```', renderHeapDiff(diff, connections), '```');
  }
  const herald = diffs.get('herald');
  for (const [system, other] of diffs) {
    if (!herald || system === 'herald') continue;
    const extra = compareHeapDiffs(herald.diff, herald.connections, other.diff, other.connections);
    sections.push(
      '',
      `## Per idle connection: Herald minus ${system}`,
      '',
      '```',
      '  bytes/conn  objects/conn  kind',
      ...extra.map((group) => `  ${group.bytes.toFixed(1).padStart(10)}  ${group.count.toFixed(1).padStart(12)}  ${group.name}`),
      '```',
    );
  }
  for (const run of runs) {
    for (const instance of run.instances) {
      const name = instance.name;
      const window = windows.get(name);
      const cpuFile = join(dir, `${name}.cpuprofile`);
      const heapFile = join(dir, `${name}.heapprofile`);
      // Every instance handles every published command (and delivers to its own sockets only).
      const perCommand = { label: 'command', count: run.published };
      const cpu = summarizeCpuProfile(JSON.parse(await readFile(cpuFile, 'utf8')) as CpuProfile, window, 25, FOCUS);
      const heap = summarizeHeapProfile(JSON.parse(await readFile(heapFile, 'utf8')) as HeapProfile);
      sections.push(
        '',
        `## ${name} (${basename(cpuFile)}, ${basename(heapFile)})`,
        '',
        '```',
        renderCpuSummary(cpu, perCommand),
        '',
        renderHeapSummary(heap, perCommand),
        '```',
      );
    }
  }
  const text = `${sections.join('\n')}\n`;
  await writeFile(join(dir, 'summary.md'), text);
  await writeFile(join(dir, 'runs.json'), `${JSON.stringify(runs, null, 2)}\n`);
  process.stdout.write(`${text}\nprofiles and summary: ${dir}\n`);
}
