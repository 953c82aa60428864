import { setTimeout as delay } from 'node:timers/promises';

/** Resolves when `condition` holds; rejects with `what` after `timeoutMs`. Polls a condition, it does not stand in for one. */
export async function waitUntil(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, intervalMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(intervalMs);
  }
}

/** Races a promise against a timeout that names what was awaited. */
export async function withTimeout<T>(promise: Promise<T>, what: string, timeoutMs = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

type Closable = { close(): unknown } | { stop(): unknown };

/**
 * For after(): closes (or stops) each resource in order, skipping those before() never got to create, and reports
 * every failure together once all were tried.
 */
export async function cleanUp(...resources: ReadonlyArray<Closable | undefined>): Promise<void> {
  const failures: string[] = [];
  for (const resource of resources) {
    if (resource === undefined) continue;
    try {
      await ('close' in resource ? resource.close() : resource.stop());
    } catch (error) {
      failures.push(error instanceof Error ? error.message : String(error));
    }
  }
  if (failures.length > 0) throw new Error(`cleaning up: ${failures.join('; ')}`);
}

/** The value, or a failure that says what was missing (instead of a non-null assertion). */
export function present<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`${what} is missing`);
  return value;
}
