import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createClient } from 'redis';

/**
 * Redis holds every user's inbox (durable delivery), so the Redis Herald runs persists it: an append-only file
 * fsynced every second, and no eviction. The same settings as docker-compose.yml (docs/operations.md#redis-durability).
 */
export const REDIS_DURABILITY = {
  appendonly: 'yes',
  appendfsync: 'everysec',
  'maxmemory-policy': 'noeviction',
} as const;

export type RedisDurability = Record<keyof typeof REDIS_DURABILITY, string>;

/** redis-server arguments for REDIS_DURABILITY. RDB snapshots stay off: the append-only file is the one copy. */
export function redisDurabilityArgs(): string[] {
  return [...Object.entries(REDIS_DURABILITY).flatMap(([name, value]) => [`--${name}`, value]), '--save', ''];
}

/** The pid file redis-server writes in its data folder while it runs (removed on a clean shutdown). */
export const redisPidFile = (dir: string): string => join(dir, 'redis.pid');

/**
 * The pid of a redis-server that still runs on `dir` (another `npm start`, or one orphaned by a SIGKILL), or
 * undefined. Two servers appending to one append-only file would corrupt it.
 */
export function redisOwningDir(dir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(redisPidFile(dir), 'utf8').trim());
  } catch {
    return undefined;
  }
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: alive, but another user's. Anything else: gone, the pid file is stale (a SIGKILLed redis).
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return undefined;
  }
  try {
    // A stale pid file whose pid now belongs to some other program does not count.
    if (!readFileSync(`/proc/${pid}/comm`, 'utf8').includes('redis')) return undefined;
  } catch {
    // No /proc (or the process just ended): trust the signal check.
  }
  return pid;
}

/** The durability settings of the Redis at `url`, or undefined when it does not answer CONFIG GET (managed Redis often renames CONFIG). */
export async function readRedisDurability(url: string): Promise<RedisDurability | undefined> {
  const client = createClient({ url, socket: { reconnectStrategy: false, connectTimeout: 2000 } });
  client.on('error', () => undefined);
  try {
    await client.connect();
    const reply = await client.configGet(Object.keys(REDIS_DURABILITY));
    const settings = Object.fromEntries(Object.keys(REDIS_DURABILITY).map((name) => [name, reply[name] ?? '?']));
    return settings as RedisDurability;
  } catch {
    return undefined;
  } finally {
    if (client.isOpen) await client.close();
  }
}

/** What is weaker than REDIS_DURABILITY in `settings`, one line each (empty when nothing is). */
export function durabilityWarnings(settings: RedisDurability): string[] {
  const warnings: string[] = [];
  if (settings.appendonly !== 'yes') {
    warnings.push(`appendonly ${settings.appendonly}: a Redis restart loses every notification stored since the last RDB snapshot, if any`);
  } else if (settings.appendfsync === 'no') {
    warnings.push('appendfsync no: a crash of the host can lose the notifications of the last ~30 s (what the kernel had not written yet)');
  }
  if (settings['maxmemory-policy'] !== 'noeviction') {
    warnings.push(`maxmemory-policy ${settings['maxmemory-policy']}: a full Redis evicts keys, i.e. silently deletes inboxes (use noeviction)`);
  }
  return warnings;
}
