/**
 * IPC protocol between the load generator and `bench/probes/instance-probe.ts`, the module every measured server
 * (Herald gateway or baseline) is started with via `node --import`. The probe measures from inside without the
 * server's code knowing: event loop delay, heap, garbage collection on demand, allocation sampling.
 */
export const PROBE_TAG = 'herald-bench-probe';

export type ProbeRequest =
  /** Returns the event loop delay since the previous `sample` and restarts the histogram. */
  | { tag: typeof PROBE_TAG; id: number; op: 'sample' }
  /** Full garbage collection, so memory readings compare live data rather than garbage. */
  | { tag: typeof PROBE_TAG; id: number; op: 'gc' }
  /** Starts V8's sampling heap profiler, keeping objects that were already collected (per-message garbage is the point). */
  | { tag: typeof PROBE_TAG; id: number; op: 'heap-start'; samplingIntervalBytes: number }
  /** Stops it and writes the `.heapprofile` to `file`. */
  | { tag: typeof PROBE_TAG; id: number; op: 'heap-stop'; file: string }
  /** Writes a `.heapsnapshot` (after a full GC), to see what each connection keeps alive. */
  | { tag: typeof PROBE_TAG; id: number; op: 'heap-snapshot'; file: string };

export interface EventLoopLag {
  /** Milliseconds a timer fired late (the histogram's resolution already subtracted). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  samples: number;
}

/** Garbage collection pauses since the previous sample: young generation (minor) and full (major) collections. */
export interface GcPauses {
  minorCount: number;
  minorMs: number;
  minorMaxMs: number;
  majorCount: number;
  majorMs: number;
  majorMaxMs: number;
}

export interface ProbeSample {
  lag: EventLoopLag;
  heapUsedBytes: number;
  rssBytes: number;
  /** `process.hrtime` in microseconds: the clock `.cpuprofile` timestamps use, to cut a profile to a window. */
  hrtimeUs: number;
  /** GC pauses since the previous sample (the harness's own full collections included when it asked for one). */
  gc: GcPauses;
}

export type ProbeReply =
  { tag: typeof PROBE_TAG; id: number; ok: true; sample?: ProbeSample; file?: string } | { tag: typeof PROBE_TAG; id: number; ok: false; error: string };

export const isProbeReply = (message: unknown): message is ProbeReply =>
  typeof message === 'object' && message !== null && (message as { tag?: unknown }).tag === PROBE_TAG;
