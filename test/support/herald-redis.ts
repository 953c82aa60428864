import { BROADCAST_FEED_KEYS, COMMAND_GROUP, COMMAND_STREAM, DEAD_LETTER_STREAM, INGEST_LEASE_KEY, userFeedKeys, type FeedKeys, type Pattern } from '@herald/contracts';
import { createClient, type RedisClientType } from 'redis';

/** One stream entry: its id and its fields (field order kept). */
export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

/** One entry of XPENDING's extended form. */
export interface PendingEntry {
  id: string;
  consumer: string;
  idleMs: number;
  deliveries: number;
}

/** What XINFO GROUPS says about the gateways' consumer group. */
export interface CommandGroupInfo {
  pending: number;
  lastDeliveredId: string;
  consumers: number;
}

/** A reply that is a flat [key, value, key, value...] list or a map (RESP3), as a plain object. */
function asRecord(reply: unknown): Record<string, unknown> {
  if (reply instanceof Map) return Object.fromEntries([...reply.entries()].map(([key, value]) => [String(key), value]));
  if (Array.isArray(reply)) {
    const record: Record<string, unknown> = {};
    for (let index = 0; index + 1 < reply.length; index += 2) record[String(reply[index])] = reply[index + 1];
    return record;
  }
  if (typeof reply === 'object' && reply !== null) return reply as Record<string, unknown>;
  throw new Error(`not a map reply: ${JSON.stringify(reply)}`);
}

function asEntries(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply)) throw new Error(`not a stream range reply: ${JSON.stringify(reply)}`);
  return reply.map((entry: unknown) => {
    const [id, fields] = entry as [unknown, unknown];
    return { id: String(id), fields: Object.fromEntries(Object.entries(asRecord(fields)).map(([key, value]) => [key, String(value)])) };
  });
}

/** The sequence number of a feed entry id (`<seq>-0`, docs/architecture.md). */
export const seqOfEntry = (entryId: string): number => Number(entryId.split('-')[0]);

/**
 * Looks at what Herald keeps in Redis, through the key layout of the contract (libs/contracts/src/inbox.ts): a
 * user's feed, the command stream and its consumer group, the dead-letter stream, route channel subscriptions.
 * Also publishes the way a service without the SDK does: XADD to the command stream.
 */
export class HeraldRedis {
  private constructor(private readonly client: RedisClientType) {}

  static async connect(redisUrl: string): Promise<HeraldRedis> {
    // A probe that reconnects quickly, so it can be used again once Redis is back after a restart.
    const client: RedisClientType = createClient({ url: redisUrl, socket: { reconnectStrategy: () => 100 } });
    client.on('error', () => undefined);
    await client.connect();
    return new HeraldRedis(client);
  }

  /** Any command, raw reply. */
  async command<T = unknown>(...args: string[]): Promise<T> {
    return this.client.sendCommand<T>(args);
  }

  feedKeys(userId: string): FeedKeys {
    return userFeedKeys(userId);
  }

  /** How many notifications the user's feed holds (XLEN of its log). */
  async feedLength(userId: string): Promise<number> {
    return Number(await this.command('XLEN', userFeedKeys(userId).log));
  }

  /** Every retained entry of a feed, oldest first. */
  async feedEntries(keys: FeedKeys): Promise<StreamEntry[]> {
    return asEntries(await this.command('XRANGE', keys.log, '-', '+'));
  }

  /** Notification ids of the user's feed in feed order (the `i` field of each entry): the order every device must see. */
  async feedIds(userId: string): Promise<string[]> {
    return (await this.feedEntries(userFeedKeys(userId))).map((entry) => entry.fields['i'] ?? '');
  }

  async broadcastFeedIds(): Promise<string[]> {
    return (await this.feedEntries(BROADCAST_FEED_KEYS)).map((entry) => entry.fields['i'] ?? '');
  }

  /** The feed's meta hash (`e` epoch, `s` latest seq). */
  async feedMeta(keys: FeedKeys): Promise<Record<string, string>> {
    return Object.fromEntries(Object.entries(asRecord(await this.command('HGETALL', keys.meta))).map(([key, value]) => [key, String(value)]));
  }

  /** Subscribers of a shard channel (PUBSUB SHARDNUMSUB): the instances that route this feed. */
  async shardSubscribers(channel: string): Promise<number> {
    const reply = await this.command('PUBSUB', 'SHARDNUMSUB', channel);
    return Number(asRecord(reply)[channel] ?? 0);
  }

  routeSubscribers(userId: string): Promise<number> {
    return this.shardSubscribers(userFeedKeys(userId).route);
  }

  /** A command XADDed to the command stream the way a non-SDK service does; resolves with the stream entry id. */
  async addCommand(pattern: Pattern, data: unknown): Promise<string> {
    return this.addRawCommand({ pattern, data: JSON.stringify(data) });
  }

  async addRawCommand(fields: Record<string, string>): Promise<string> {
    return String(await this.command('XADD', COMMAND_STREAM, '*', ...Object.entries(fields).flat()));
  }

  /** Entries of the command stream (the gateways delete an entry once it is acknowledged). */
  async commandRange(from = '-', to = '+'): Promise<StreamEntry[]> {
    return asEntries(await this.command('XRANGE', COMMAND_STREAM, from, to));
  }

  /** The gateways' consumer group on the command stream, or undefined before any gateway created it. */
  async commandGroup(): Promise<CommandGroupInfo | undefined> {
    let groups: unknown;
    try {
      groups = await this.command('XINFO', 'GROUPS', COMMAND_STREAM);
    } catch {
      return undefined; // no stream yet
    }
    for (const group of groups as unknown[]) {
      const info = asRecord(group);
      if (String(info['name']) === COMMAND_GROUP) {
        return { pending: Number(info['pending']), lastDeliveredId: String(info['last-delivered-id']), consumers: Number(info['consumers']) };
      }
    }
    return undefined;
  }

  /** The last entry id ever added to the command stream ('0-0' if none). */
  async lastCommandId(): Promise<string> {
    try {
      return String(asRecord(await this.command('XINFO', 'STREAM', COMMAND_STREAM))['last-generated-id']);
    } catch {
      return '0-0';
    }
  }

  /**
   * True once every command XADDed so far has been read by some gateway and acknowledged: nothing new, nothing
   * pending. The exact barrier for commands published through the stream.
   */
  async commandsSettled(): Promise<boolean> {
    const [group, last] = await Promise.all([this.commandGroup(), this.lastCommandId()]);
    return group !== undefined && group.pending === 0 && group.lastDeliveredId === last;
  }

  /** The consumer (the gateway's INSTANCE_ID) that holds the ingest lease: the one instance reading the command stream. */
  async ingestReader(): Promise<string | null> {
    return this.client.get(INGEST_LEASE_KEY);
  }

  /** The consumers of the gateways' group and how many entries each holds unacknowledged. */
  async commandConsumers(): Promise<Array<{ name: string; pending: number; idleMs: number }>> {
    let reply: unknown;
    try {
      reply = await this.command('XINFO', 'CONSUMERS', COMMAND_STREAM, COMMAND_GROUP);
    } catch {
      return [];
    }
    return (reply as unknown[]).map((consumer) => {
      const info = asRecord(consumer);
      return { name: String(info['name']), pending: Number(info['pending']), idleMs: Number(info['idle']) };
    });
  }

  /** Read but unacknowledged command entries (XPENDING, extended form), up to `count`. */
  async pendingCommands(count = 10_000): Promise<PendingEntry[]> {
    let reply: unknown;
    try {
      reply = await this.command('XPENDING', COMMAND_STREAM, COMMAND_GROUP, '-', '+', String(count));
    } catch {
      return [];
    }
    return (reply as unknown[][]).map(([id, consumer, idle, deliveries]) => ({
      id: String(id),
      consumer: String(consumer),
      idleMs: Number(idle),
      deliveries: Number(deliveries),
    }));
  }

  async deadLetters(): Promise<StreamEntry[]> {
    return asEntries(await this.command('XRANGE', DEAD_LETTER_STREAM, '-', '+'));
  }

  async close(): Promise<void> {
    if (this.client.isOpen) await this.client.close();
  }
}
