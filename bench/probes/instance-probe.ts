/**
 * Loaded into every measured server with `node --import` (Herald's gateway and the baseline alike), so both are
 * measured the same way without touching their code. Answers the load generator over the fork IPC channel;
 * without one (started by hand) it does nothing.
 */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';
import { PerformanceObserver, constants as perfConstants, monitorEventLoopDelay } from 'node:perf_hooks';
import { setFlagsFromString, writeHeapSnapshot } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PROBE_TAG, type GcPauses, type ProbeReply, type ProbeRequest, type ProbeSample } from '../../apps/loadgen/src/processes/probe-protocol.js';

// prom-client's default; the histogram records the whole timer interval, so the resolution is subtracted below.
const RESOLUTION_MS = 10;

const isProbeRequest = (message: unknown): message is ProbeRequest => typeof message === 'object' && message !== null && (message as { tag?: unknown }).tag === PROBE_TAG;

if (typeof process.send === 'function') {
  const delay = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  delay.enable();
  let session: Session | undefined;
  // Stop-the-world pauses, split young (scavenge) / old (mark-compact): they explain tail latency the CPU figure hides.
  const emptyPauses = (): GcPauses => ({ minorCount: 0, minorMs: 0, minorMaxMs: 0, majorCount: 0, majorMs: 0, majorMaxMs: 0 });
  let pauses = emptyPauses();
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      // GC entries carry `detail.kind` (Node >= 16); the typings only declare `detail` on marks and measures.
      const kind = (entry as unknown as { detail?: { kind?: number } }).detail?.kind;
      if (kind === perfConstants.NODE_PERFORMANCE_GC_MINOR) {
        pauses.minorCount += 1;
        pauses.minorMs += entry.duration;
        pauses.minorMaxMs = Math.max(pauses.minorMaxMs, entry.duration);
      } else if (kind === perfConstants.NODE_PERFORMANCE_GC_MAJOR) {
        pauses.majorCount += 1;
        pauses.majorMs += entry.duration;
        pauses.majorMaxMs = Math.max(pauses.majorMaxMs, entry.duration);
      }
    }
  }).observe({ entryTypes: ['gc'] });

  const lagMs = (nanoseconds: number): number => Math.max(0, nanoseconds / 1e6 - RESOLUTION_MS);

  const sample = (): ProbeSample => {
    const memory = process.memoryUsage();
    const result: ProbeSample = {
      lag: {
        p50Ms: delay.count > 0 ? lagMs(delay.percentile(50)) : 0,
        p99Ms: delay.count > 0 ? lagMs(delay.percentile(99)) : 0,
        maxMs: delay.count > 0 ? lagMs(delay.max) : 0,
        samples: delay.count,
      },
      heapUsedBytes: memory.heapUsed,
      rssBytes: memory.rss,
      hrtimeUs: Number(process.hrtime.bigint() / 1000n),
      gc: pauses,
    };
    delay.reset();
    pauses = emptyPauses();
    return result;
  };

  const collectGarbage = (): void => {
    // The measured servers do not run with --expose-gc; this turns it on for this call only.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as (options: { type: 'major'; execution: 'sync'; flavor: 'last-resort' }) => void;
    // The collection V8 runs before giving up on memory: repeated full GCs that also shrink the young generation
    // and give its pages back, so RSS before and after connecting does not swing with how big V8 last let it grow.
    gc({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  };

  const handle = async (request: ProbeRequest): Promise<Omit<Extract<ProbeReply, { ok: true }>, 'tag' | 'id' | 'ok'>> => {
    switch (request.op) {
      case 'sample':
        return { sample: sample() };
      case 'gc':
        collectGarbage();
        return {};
      case 'heap-start':
        session = new Session();
        session.connect();
        await session.post('HeapProfiler.enable');
        await session.post('HeapProfiler.startSampling', {
          samplingInterval: request.samplingIntervalBytes,
          includeObjectsCollectedByMajorGC: true,
          includeObjectsCollectedByMinorGC: true,
        });
        return {};
      case 'heap-stop': {
        if (!session) throw new Error('heap-stop without heap-start');
        const { profile } = await session.post('HeapProfiler.stopSampling');
        session.disconnect();
        session = undefined;
        await writeFile(request.file, JSON.stringify(profile));
        return { file: request.file };
      }
      case 'heap-snapshot':
        return { file: writeHeapSnapshot(request.file) };
    }
  };

  process.on('message', (message: unknown) => {
    if (!isProbeRequest(message)) return;
    const reply = (body: ProbeReply): void => {
      // The channel may already be closing while the server shuts down; a lost reply times out on the other side.
      if (process.connected) process.send?.(body);
    };
    handle(message).then(
      (result) => reply({ tag: PROBE_TAG, id: message.id, ok: true, ...result }),
      (error: unknown) => reply({ tag: PROBE_TAG, id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
    );
  });
  // Listening for messages refs the channel; the server must still be able to exit on its own terms.
  process.channel?.unref();
  // The harness went away without stopping us (killed, crashed): shut down the way an operator would.
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
}
