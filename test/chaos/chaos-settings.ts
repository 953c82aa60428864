import { z } from 'zod';
import type { ChaosLoad } from './chaos-run.js';

const ChaosEnv = z.object({
  /** `1`: the short form CI runs (.ci/run), fewer devices and a lower rate, same faults and assertions. */
  HERALD_CHAOS_SHORT: z.enum(['0', '1']).default('0'),
});

export const chaosShort = (): boolean => ChaosEnv.parse(process.env).HERALD_CHAOS_SHORT === '1';

/**
 * Full form: the figures (300 devices, 200 notifications/s). Short form: a third of the devices and half the
 * rate, so the CI stage (compose stack up, 5 faults, down; then the processes) stays under about 4 minutes.
 */
export function chaosLoad(): ChaosLoad {
  return chaosShort() ? { devices: 100, ratePerSecond: 100 } : { devices: 300, ratePerSecond: 200 };
}
