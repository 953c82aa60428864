/** How the load is laid out: which user each command targets, which user and instance each device belongs to. */

export const BENCH_NOTIFICATION_TYPE = 'bench';

export const userIdOf = (userIndex: number): string => `bench-user-${userIndex}`;

/** Command `seq` targets this user: round robin, so every user gets the same share and order is predictable. */
export const userIndexForSeq = (seq: number, users: number): number => seq % users;

export interface DeviceSpec {
  deviceIndex: number;
  userIndex: number;
  instanceIndex: number;
  url: string;
}

/**
 * Device d belongs to user d % users; the k-th device of a user goes to instance (user + k) % instances, so the
 * devices of one user sit on different instances (the case that needs the cluster to work) and instances stay balanced.
 */
export function layoutDevices(connections: number, users: number, urls: readonly string[]): DeviceSpec[] {
  return Array.from({ length: connections }, (_, deviceIndex) => {
    const userIndex = deviceIndex % users;
    const instanceIndex = (userIndex + Math.floor(deviceIndex / users)) % urls.length;
    return { deviceIndex, userIndex, instanceIndex, url: urls[instanceIndex] };
  });
}

/** Devices spread over worker processes round robin. */
export function splitAmongWorkers<T>(items: readonly T[], workers: number): T[][] {
  const shares: T[][] = Array.from({ length: workers }, () => []);
  items.forEach((item, index) => shares[index % workers].push(item));
  return shares;
}

/** What every bench notification carries in `data`; the run id keeps stragglers of an earlier run out of the books. */
export interface BenchPayload {
  run: string;
  seq: number;
  /** Publish time, microseconds of the monotonic clock (shared by every process on the machine). */
  t: number;
  pad: string;
}

export const isBenchPayload = (value: unknown): value is BenchPayload => {
  if (typeof value !== 'object' || value === null) return false;
  const payload = value as Record<string, unknown>;
  return typeof payload['run'] === 'string' && typeof payload['seq'] === 'number' && typeof payload['t'] === 'number';
};

/** Monotonic microseconds: comparable across processes on one machine, unlike wall-clock time with ms resolution. */
export const monotonicMicros = (): number => Number(process.hrtime.bigint() / 1000n);
