import { setTimeout as delay } from 'node:timers/promises';
import { SampleBuffer, summarizeLatencies, type LatencySummary } from '../report/latency-stats.js';
import { monotonicMicros, userIndexForSeq } from '../workers/workload.js';
import type { NotificationPublisher } from './notification-publisher.js';

export interface PaceOptions {
  rate: number;
  durationSeconds: number;
  users: number;
  runId: string;
  padBytes: number;
}

export interface PaceResult {
  published: number;
  startUs: number;
  endUs: number;
  /** How late each publish left against its schedule: a late pacer means the load generator, not the server, limits the rate. */
  lateMs: LatencySummary;
}

/**
 * Open-loop publishing at a fixed rate: command i is due at start + i/rate whatever happened to earlier ones, so a
 * slow server shows as latency rather than as a lower send rate. Wakes every millisecond and sends what is due;
 * each command is stamped when it actually leaves.
 */
export async function publishAtRate(publisher: NotificationPublisher, options: PaceOptions): Promise<PaceResult> {
  const total = Math.max(1, Math.round(options.rate * options.durationSeconds));
  const pad = 'x'.repeat(options.padBytes);
  const late = new SampleBuffer(total);
  const startUs = monotonicMicros();
  const intervalUs = 1e6 / options.rate;
  let seq = 0;
  while (seq < total) {
    const nowUs = monotonicMicros();
    const due = Math.min(total, Math.floor((nowUs - startUs) / intervalUs) + 1);
    for (; seq < due; seq++) {
      const sentUs = monotonicMicros();
      late.push(Math.max(0, (sentUs - (startUs + seq * intervalUs)) / 1000));
      publisher.publish(userIndexForSeq(seq, options.users), { run: options.runId, seq, t: sentUs, pad });
    }
    if (seq < total) await delay(1);
  }
  return { published: total, startUs, endUs: monotonicMicros(), lateMs: summarizeLatencies([late.toArray()]) };
}
