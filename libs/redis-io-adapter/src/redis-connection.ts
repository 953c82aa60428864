import { Redis, type RedisOptions } from 'ioredis';

/**
 * Every long-lived Redis client of a gateway: connects when asked (`whenReady`), reconnects forever with backoff capped
 * at 2 s, and lets commands wait through an outage instead of failing them (no per-request retry limit).
 */
export function createRedisClient(url: string, options: RedisOptions = {}): Redis {
  const client = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: null,
    retryStrategy: (attempt: number) => Math.min(100 * 2 ** attempt, 2000),
    ...options,
  });
  // Connection errors are reported by whoever watches the client (onConnectionChange); without a listener ioredis
  // prints every one to stderr itself.
  client.on('error', () => undefined);
  return client;
}

/**
 * Connects and resolves once the client is ready, however many attempts that takes: ioredis' connect() rejects on a
 * failed first attempt while its retry strategy goes on connecting in the background.
 */
export async function whenReady(client: Redis): Promise<void> {
  const ready = new Promise<void>((resolve) => client.once('ready', () => resolve()));
  client.connect().catch(() => undefined);
  await ready;
}

/** Calls `listener` on every change between connected (ready) and not. */
export function onConnectionChange(client: Redis, listener: (connected: boolean) => void): void {
  let connected = false;
  const set = (next: boolean): void => {
    if (next === connected) return;
    connected = next;
    listener(next);
  };
  client.on('ready', () => set(true));
  client.on('close', () => set(false));
  client.on('end', () => set(false));
}
