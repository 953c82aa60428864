import { Logger } from '@nestjs/common';
import { BaseRpcContext, Server, type CustomTransportStrategy, type MessageHandler, type WritePacket } from '@nestjs/microservices';
import {
  COMMAND_GROUP,
  COMMAND_STREAMS,
  CommandRejectReasons,
  DEAD_LETTER_STREAM,
  INGEST_READERS_KEY,
  ingestLeaseKey,
  RedisClientRoles,
  replyChannel,
  type Pattern,
  type RedisClientRoleLabel,
} from '@herald/contracts';
import { createRedisClient, onConnectionChange, whenReady } from '@herald/redis-io-adapter';
import type { Redis } from 'ioredis';
import { isObservable, lastValueFrom } from 'rxjs';
import { CommandDeserializer, MalformedCommand } from './command.deserializer.js';
import { jsonText } from './envelope.factory.js';

export interface HeraldCommandServerOptions {
  redisUrl: string;
  /** This instance's consumer name in the group (its INSTANCE_ID). */
  consumer: string;
  /** An entry read but not acknowledged for this long is taken over (its instance died, or it failed here). */
  claimIdleMs: number;
  /** Deliveries after which a failing entry goes to the dead-letter stream. */
  maxAttempts: number;
  /**
   * True: each command stream is read by one instance at a time (it holds that stream's lease in Redis), so the
   * commands of a stream are stored in stream order, which is publish order for one publisher; the streams are
   * shared out evenly between the instances. False: every instance reads every stream (two commands read by different
   * instances at the same moment may be stored in either order).
   */
  ordered: boolean;
  /** How long a reader's lease lasts without renewal: how soon another instance reads after the reader died. */
  leaseMs: number;
  /** The command streams to read (default COMMAND_STREAMS: the shared one and the partitions). */
  streams?: readonly string[];
  /** Entries per XREADGROUP / reclaim round. */
  batchSize?: number;
  /** How long one XREADGROUP blocks waiting for entries. */
  blockMs?: number;
  /** Told of every failed attempt and of every entry moved to the dead-letter stream (metrics). */
  onFailure?: (pattern: string) => void;
  onDeadLetter?: (pattern: string) => void;
  /** Told how many command streams this instance reads, whenever that changes (metrics). */
  onStreamsRead?: (count: number) => void;
}

/** Where a command came from: the stream entry it was read from, or a pub/sub channel. */
export class CommandContext extends BaseRpcContext<[pattern: string, source: 'stream' | 'pubsub', entryId: string | undefined]> {
  get pattern(): string {
    return this.args[0];
  }
  get source(): 'stream' | 'pubsub' {
    return this.args[1];
  }
}

type ConnectionListener = (role: RedisClientRoleLabel, connected: boolean) => void;
type StreamEntry = [id: string, fields: string[]];

/** Batches read but not yet stored and acknowledged, at most. */
const MAX_BATCHES_IN_FLIGHT = 4;

/**
 * Herald's command transport: the `@EventPattern` / `@MessagePattern` handlers of the ingest module, fed from two
 * sources.
 *
 * - **The command streams** (durable): the shared `herald:{commands}` and its partitions `herald:{commands}:<n>`, each
 *   read through one consumer group, so each command is handled by one instance. Ordered (the default), each stream
 *   has one reader at a time, the holder of its lease; the leases are shared out evenly between the live instances
 *   (one script per tick counts them and takes or gives back leases), so ingest work spreads while one user's
 *   commands, which share a partition, stay in order. An entry is acknowledged (and deleted) only once its handler
 *   resolved, i.e. once the notification is stored and routed. Entries idle longer than `claimIdleMs` (the handler
 *   failed) are claimed again by their stream's reader, and a new reader first claims everything its predecessor left
 *   pending; an entry delivered `maxAttempts` times goes to the dead-letter stream with its last error, in one
 *   script, so two instances cannot both move it.
 * - **Pub/sub** (compatibility): the Nest Redis wire format on channels named after the patterns, as before. Every
 *   instance receives each such command; handlers store it once (the store deduplicates by id). Requests
 *   (`presence.query`) are answered on `<pattern>.reply`, as Nest's own transport does.
 */
export class HeraldCommandServer extends Server<{ connection: ConnectionListener }> implements CustomTransportStrategy {
  private readonly log = new Logger(HeraldCommandServer.name);
  private readonly clients = new Map<RedisClientRoleLabel, Redis>();
  private readonly connectionListeners: ConnectionListener[] = [];
  /** The last error of each entry that failed here, for its dead-letter record. */
  private readonly lastErrors = new Map<string, string>();
  private readonly batchSize: number;
  private readonly blockMs: number;
  private reclaimTimer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  private readonly streams: readonly string[];
  /** The streams this instance reads now: all when not ordered; when ordered, those whose lease it holds and keeps. */
  private readStreams: string[] = [];
  /** Ordered: the streams whose lease this instance held at the last tick. */
  private held = new Set<string>();
  /** Ordered: leases held beyond this instance's share: no longer read, given back once drained. */
  private readonly releasing = new Set<string>();
  /** Ordered: releasing streams with nothing read from them unfinished here (the read loop says so): the next tick gives them back. */
  private readonly drained = new Set<string>();
  private reclaimRounds = 0;
  private closed = false;
  private reading: Promise<void> | undefined;
  /** Entries handled and waiting, per stream, for the acknowledgement in flight to come back (acknowledge()). */
  private ackIds = new Map<string, string[]>();
  private acking: Promise<void> | undefined;

  constructor(private readonly options: HeraldCommandServerOptions) {
    super();
    this.initializeSerializer({});
    this.initializeDeserializer({ deserializer: new CommandDeserializer() });
    this.streams = options.streams ?? COMMAND_STREAMS;
    this.batchSize = options.batchSize ?? 100;
    this.blockMs = options.blockMs ?? 1000;
  }

  /** The only event: a Redis client of the transport connected or disconnected (RedisStatusService listens). */
  on(_event: 'connection', callback: ConnectionListener): void {
    this.connectionListeners.push(callback);
  }

  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- Nest's Server declares unwrap<T>()
  unwrap<T>(): T {
    return this.clients as T;
  }

  listen(callback: (error?: unknown) => void): void {
    this.start().then(() => callback(), callback);
  }

  /**
   * Stops reading, lets the batch in hand finish and be acknowledged (at most one XREADGROUP block later), then closes.
   * Cutting the blocked read instead could lose its reply while Redis already counts the entries as delivered here:
   * they would wait claimIdleMs for another instance.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.reclaimTimer);
    clearTimeout(this.leaseTimer);
    const reader = this.clients.get(RedisClientRoles.Ingest);
    if (reader?.status === 'ready') await this.reading;
    await this.acking;
    // The next readers need not wait for the leases to expire: a rolling deploy leaves no gap in ingest.
    if (this.options.ordered && this.writer.status === 'ready') {
      await this.writer
        .eval(LEAVE_SCRIPT, 1 + this.streams.length, INGEST_READERS_KEY, ...this.streams.map(ingestLeaseKey), this.options.consumer)
        .catch(() => undefined);
    }
    await Promise.all(
      [...this.clients.values()].map(async (client) => {
        if (client.status === 'ready') await client.quit().catch(() => undefined);
        else client.disconnect();
      }),
    );
  }

  private async start(): Promise<void> {
    const reader = this.client(RedisClientRoles.Ingest);
    const writer = this.client(RedisClientRoles.TransportPub);
    const subscriber = this.client(RedisClientRoles.TransportSub);
    await Promise.all([reader, writer, subscriber].map(whenReady));
    await this.ensureGroup();
    subscriber.on('message', (channel: string, message: string) => this.onPubSub(channel, message));
    const channels = [...this.messageHandlers.keys()];
    if (channels.length > 0) await subscriber.subscribe(...channels);
    await this.tickLease();
    this.reading = this.readLoop();
    this.scheduleReclaim();
  }

  /**
   * Ordered: registers this instance, renews its leases and takes free ones up to its even share, every leaseMs / 3
   * (one script). A lease newly taken is read only after what its previous reader left pending has been claimed; a
   * lease beyond the share stops being read at once and is given back by the read loop. Unordered: every stream.
   */
  private async tickLease(): Promise<void> {
    const { ordered, leaseMs, consumer } = this.options;
    if (!ordered) {
      this.setReadStreams([...this.streams]);
      return;
    }
    const giveBack = [...this.drained];
    try {
      const reply = (await this.writer.eval(
        TICK_SCRIPT,
        1 + this.streams.length,
        INGEST_READERS_KEY,
        ...this.streams.map(ingestLeaseKey),
        consumer,
        leaseMs,
        this.leaseOffset(),
        ...giveBack.map((stream) => this.streams.indexOf(stream)),
      )) as number[];
      for (const stream of giveBack) {
        this.held.delete(stream);
        this.releasing.delete(stream);
        this.drained.delete(stream);
      }
      const [share = 0, ...indices] = reply;
      const held = new Set(indices.flatMap((index) => this.streams.at(index) ?? []));
      for (const stream of this.held) {
        if (held.has(stream)) continue;
        this.releasing.delete(stream);
        this.drained.delete(stream);
        this.log.warn(`lost the lease of ${stream}: another instance reads it now`);
      }
      const taken = [...held].filter((stream) => !this.held.has(stream));
      // Taken leases are read only once their predecessors' entries are claimed; a failed tick starts over.
      this.held = new Set([...held].filter((stream) => !taken.includes(stream)));
      for (const stream of taken) {
        // What the previous reader read and never acknowledged comes first, in stream order, however recently it was
        // read: that reader stopped renewing its lease a lease ago (it died, lost Redis, or gave the lease back). Waiting
        // for those entries to be idle claimIdleMs would delay its last commands by that much; if it still stores
        // them, the store's dedupe by id keeps one copy.
        await this.reclaimFromPreviousReader(stream);
        this.held.add(stream);
      }
      if (taken.length > 0) this.log.log(`took the lease of ${taken.join(', ')}`);
      const kept = [...this.held].filter((stream) => !this.releasing.has(stream));
      for (const stream of kept.splice(share)) this.releasing.add(stream);
      this.setReadStreams(kept);
    } catch (error) {
      // Unknown whether the leases are still ours: stop reading until they are confirmed, and claim again after.
      this.setReadStreams([]);
      this.held.clear();
      this.releasing.clear();
      this.drained.clear();
      if (!this.isClosed()) this.log.warn(`command stream leases: ${describe(error)}`);
    }
    if (!this.isClosed()) this.leaseTimer = setTimeout(() => void this.tickLease(), Math.max(50, Math.floor(leaseMs / 3)));
  }

  /** Where this instance starts looking for free leases: instances that start together take different ones. */
  private leaseOffset(): number {
    let sum = 0;
    for (const char of this.options.consumer) sum = (sum * 31 + char.charCodeAt(0)) >>> 0;
    return sum % this.streams.length;
  }

  private setReadStreams(streams: string[]): void {
    if (streams.length !== this.readStreams.length) this.options.onStreamsRead?.(streams.length);
    this.readStreams = streams;
  }

  /** Marks the releasing streams drained once nothing read from them is unfinished here: the next tick gives them back. */
  private async drainReleasing(inFlight: ReadonlySet<Promise<void>>): Promise<void> {
    const releasing = [...this.releasing];
    await Promise.all(inFlight);
    await this.acking;
    for (const stream of releasing) if (this.releasing.has(stream)) this.drained.add(stream);
  }

  private client(role: RedisClientRoleLabel): Redis {
    // RESP2: the stream replies (XREADGROUP, XPENDING, XCLAIM, XINFO) are read as the arrays RESP2 gives.
    const client = createRedisClient(this.options.redisUrl, { protocol: 2 });
    onConnectionChange(client, (connected) => {
      for (const listener of this.connectionListeners) listener(role, connected);
    });
    this.clients.set(role, client);
    return client;
  }

  /** The groups start at the beginning of each stream: commands published before any gateway ran are handled too. */
  private async ensureGroup(): Promise<void> {
    const pipeline = this.writer.pipeline();
    for (const stream of this.streams) pipeline.xgroup('CREATE', stream, COMMAND_GROUP, '0', 'MKSTREAM');
    for (const [error] of (await pipeline.exec()) ?? []) {
      if (error !== null && !String(error).includes('BUSYGROUP')) throw error;
    }
  }

  /** Read anew after every await (a plain field read is narrowed by the loop condition). */
  private isClosed(): boolean {
    return this.closed;
  }

  private get writer(): Redis {
    return this.role(RedisClientRoles.TransportPub);
  }

  private role(role: RedisClientRoleLabel): Redis {
    const client = this.clients.get(role);
    if (client === undefined) throw new Error(`HeraldCommandServer: no ${role} client before listen()`);
    return client;
  }

  /**
   * Reads the next batch as soon as the previous one's handlers have started, not once they are done: a command that
   * arrives meanwhile does not wait for the previous batch's stores and acknowledgement. Batches still keep their
   * order in Redis (each one's store calls are issued before the next is read), and at most MAX_BATCHES_IN_FLIGHT
   * are unfinished at once. One XREADGROUP reads every stream this instance holds (they share a slot).
   */
  private async readLoop(): Promise<void> {
    const reader = this.role(RedisClientRoles.Ingest);
    const inFlight = new Set<Promise<void>>();
    while (!this.closed) {
      // No read is outstanding here: whatever was read from a stream no longer read is in inFlight.
      if (this.drained.size < this.releasing.size) {
        await this.drainReleasing(inFlight);
        continue;
      }
      const streams = this.readStreams;
      if (streams.length === 0) {
        await delay(Math.max(50, Math.floor(this.options.leaseMs / 3)));
        continue;
      }
      if (inFlight.size >= MAX_BATCHES_IN_FLIGHT) {
        await Promise.race(inFlight);
        continue;
      }
      let reply: unknown;
      try {
        reply = await reader.call(
          'XREADGROUP',
          'GROUP',
          COMMAND_GROUP,
          this.options.consumer,
          'COUNT',
          this.batchSize,
          'BLOCK',
          this.blockMs,
          'STREAMS',
          ...streams,
          ...streams.map(() => '>'),
        );
      } catch (error) {
        if (this.isClosed()) return;
        // A Redis that lost its data (no persistence) has no group any more: create it again.
        if (String(error).includes('NOGROUP')) await this.ensureGroup().catch(() => undefined);
        else this.log.warn(`reading the command streams failed: ${String(error)}`);
        await delay(200);
        continue;
      }
      // One [name, entries] pair per stream that had entries, or null when the block timed out.
      for (const [stream, entries] of (reply as Array<[string, StreamEntry[]]> | null) ?? []) {
        const batch = this.process(stream, entries).finally(() => inFlight.delete(batch));
        inFlight.add(batch);
      }
    }
    await Promise.all(inFlight);
  }

  /**
   * Handles a batch: every handler is started in stream order before any is awaited, so their store calls reach Redis
   * in that order. Acknowledges (and deletes) the entries whose handler succeeded; the others stay pending.
   */
  private async process(stream: string, entries: readonly StreamEntry[]): Promise<void> {
    const outcomes = await Promise.all(entries.map(([id, fields]) => this.handleEntry(stream, id, fields)));
    const done = entries.filter((_, index) => outcomes[index]).map(([id]) => id);
    // Not awaited: the next read need not wait for this acknowledgement's round trip (close() waits for it).
    if (done.length > 0) this.acknowledge(stream, done);
  }

  /**
   * Acknowledges (and deletes) entries. While one acknowledgement is on its way, the entries of the batches finished
   * meanwhile wait and go together in the next one: at about one entry per read, one XACK + XDEL per batch was two
   * Redis commands per notification. `acking` is settled once nothing is left to acknowledge.
   */
  private acknowledge(stream: string, ids: readonly string[]): void {
    const waiting = this.ackIds.get(stream);
    if (waiting === undefined) this.ackIds.set(stream, [...ids]);
    else for (const id of ids) waiting.push(id);
    this.acking ??= this.flushAcks();
  }

  private async flushAcks(): Promise<void> {
    while (this.ackIds.size > 0) {
      const batches = this.ackIds;
      this.ackIds = new Map();
      // Sent together, not as a transaction: MULTI/EXEC would be two more commands for nothing (an entry deleted but
      // still pending is dropped from the pending list by the next claim).
      const pipeline = this.writer.pipeline();
      for (const [stream, ids] of batches) pipeline.xack(stream, COMMAND_GROUP, ...ids).xdel(stream, ...ids);
      try {
        await pipeline.exec();
      } catch (error) {
        // Not acknowledged: they are claimed again later and deduplicated by the store.
        this.log.warn(`acknowledging command(s) of ${batches.size} stream(s) failed: ${String(error)}`);
      }
    }
    this.acking = undefined;
  }

  /** True when the entry is done with (handled, or unusable and dead-lettered); false to retry it later. */
  private async handleEntry(stream: string, id: string, fields: readonly string[]): Promise<boolean> {
    const pattern = field(fields, 'pattern');
    const handler = pattern === undefined ? undefined : this.messageHandlers.get(pattern);
    if (pattern === undefined || handler === undefined || !handler.isEventHandler) {
      // Nothing could ever handle it: an operator should see it, so it goes where failed commands go.
      await this.deadLetter(stream, id, 1, `no event handler for pattern ${JSON.stringify(pattern ?? null)}`).catch(() => undefined);
      return false;
    }
    const raw = field(fields, 'data');
    const data = raw === undefined ? new MalformedCommand(CommandRejectReasons.NotAnEnvelope, 'stream entry has no data field') : parseData(raw);
    try {
      await this.run(handler, data, new CommandContext([pattern, 'stream', id]));
      this.lastErrors.delete(id);
      return true;
    } catch (error) {
      this.lastErrors.set(id, describe(error));
      this.options.onFailure?.(pattern);
      this.log.warn(`command ${id} (${pattern}) failed, it will be retried: ${describe(error)}`);
      return false;
    }
  }

  /** Runs a handler through Nest (guards, interceptors, filters) to the end; rejects with what it threw. */
  private async run(handler: MessageHandler, data: unknown, context: CommandContext): Promise<void> {
    const result: unknown = await handler(data, context);
    // A handler without interceptors resolves to its value: no Observable needs to be built around it to wait for it.
    if (isObservable(result)) await lastValueFrom(result, { defaultValue: undefined });
  }

  private scheduleReclaim(): void {
    if (this.closed) return;
    const interval = Math.max(100, Math.min(5000, Math.floor(this.options.claimIdleMs / 2)));
    this.reclaimTimer = setTimeout(() => {
      this.reclaimIdle()
        .catch((error: unknown) => {
          if (!this.closed) this.log.warn(`reclaiming idle commands failed: ${String(error)}`);
        })
        .finally(() => this.scheduleReclaim());
    }, interval);
  }

  /** Entries idle claimIdleMs in the streams this instance reads (failed here, or read by an instance long gone). */
  private async reclaimIdle(): Promise<void> {
    for (const stream of this.readStreams) await this.reclaim(stream);
    if (++this.reclaimRounds % 100 === 0) for (const stream of this.readStreams) await this.forgetIdleConsumers(stream);
  }

  /** Every entry of a stream that other instances read and did not acknowledge, whatever its idle time, batch after batch. */
  private async reclaimFromPreviousReader(stream: string): Promise<void> {
    // Through the pending list in id order, a batch at a time (bounded: the list is finite and each round moves on).
    let after = '-';
    for (let round = 0; round < 10_000 && !this.closed; round++) {
      const last = await this.reclaim(stream, 0, true, after);
      if (last === undefined) return;
      after = `(${last}`;
    }
  }

  /**
   * A stream's entries idle for minIdleMs (of other instances only, with `othersOnly`): dead-letter those delivered
   * maxAttempts times, claim and handle the others. Returns the id of the last pending entry it looked at when it saw
   * a full batch (there may be more after it), else undefined.
   */
  private async reclaim(stream: string, minIdleMs = this.options.claimIdleMs, othersOnly = false, after = '-'): Promise<string | undefined> {
    const { maxAttempts, consumer } = this.options;
    const pending = (await this.writer.call('XPENDING', stream, COMMAND_GROUP, 'IDLE', minIdleMs, after, '+', this.batchSize)) as Array<[string, string, number, number]>;
    const retry: string[] = [];
    for (const [id, owner, , deliveries] of pending) {
      if (othersOnly && owner === consumer) continue;
      if (deliveries >= maxAttempts) await this.deadLetter(stream, id, deliveries, this.lastErrors.get(id) ?? 'failed on an instance that is gone');
      else retry.push(id);
    }
    if (retry.length > 0) {
      const claimed = (await this.writer.call('XCLAIM', stream, COMMAND_GROUP, consumer, minIdleMs, ...retry)) as Array<[string, string[] | null] | null>;
      // An entry deleted meanwhile comes back empty (or not at all): nothing to do for it.
      await this.process(
        stream,
        claimed.filter((entry): entry is StreamEntry => entry?.[1] != null),
      );
    }
    return pending.length < this.batchSize ? undefined : pending.at(-1)?.[0];
  }

  private async deadLetter(stream: string, id: string, attempts: number, error: string): Promise<void> {
    const moved = (await this.writer.eval(DEAD_LETTER_SCRIPT, 2, stream, DEAD_LETTER_STREAM, COMMAND_GROUP, id, String(attempts), error, this.options.consumer)) as
      string | null;
    this.lastErrors.delete(id);
    if (moved === null) return;
    this.options.onDeadLetter?.(moved);
    this.log.error(`command ${id} of ${stream} (${moved}) moved to ${DEAD_LETTER_STREAM} after ${attempts} attempt(s): ${error}`);
  }

  /** Instances come and go with new names; a consumer with nothing pending and idle for an hour is forgotten. */
  private async forgetIdleConsumers(stream: string): Promise<void> {
    const consumers = (await this.writer.call('XINFO', 'CONSUMERS', stream, COMMAND_GROUP)) as unknown[][];
    for (const info of consumers) {
      const name = String(info[info.indexOf('name') + 1]);
      const pending = Number(info[info.indexOf('pending') + 1]);
      const idle = Number(info[info.indexOf('idle') + 1]);
      if (name !== this.options.consumer && pending === 0 && idle > 3_600_000) await this.writer.xgroup('DELCONSUMER', stream, COMMAND_GROUP, name);
    }
  }

  private onPubSub(channel: string, message: string): void {
    // Channels are plain pattern names: a direct lookup (Nest's generic one tries JSON.parse on every name first).
    const handler = this.messageHandlers.get(channel);
    if (handler === undefined) return;
    const packet = this.deserializer.deserialize(parseJson(message), { channel }) as { data: unknown; id?: string };
    const context = new CommandContext([channel, 'pubsub', undefined]);
    if (packet.id !== undefined && !handler.isEventHandler) {
      const id = packet.id;
      this.handleRequest(
        context,
        async () => this.transformToObservable(await handler(packet.data, context)),
        (response) => this.reply(channel, id, response),
      );
      return;
    }
    // Not retried: a pub/sub command lives only as long as its delivery. Publishers that need retries use the stream.
    this.run(handler, packet.data, context).catch((error: unknown) => this.log.warn(`pub/sub command on ${channel} failed: ${describe(error)}`));
  }

  private async reply(channel: string, id: string, response: WritePacket): Promise<void> {
    const packet = this.serializer.serialize({ ...response, id }) as unknown;
    await this.writer.publish(replyChannel(channel as Pattern), JSON.stringify(packet));
  }
}

/**
 * One ordered-ingest tick: registers the instance for a lease's time, counts the registered instances, renews every
 * lease it holds and takes free ones until it holds its share (floor or ceil of streams / instances), looking from
 * `offset` on.
 * Leases beyond its share are its caller's to give back, once it has finished what it read from them: it names them
 * in a later tick, which deletes them first. KEYS: the readers' sorted set, then one lease per stream. ARGV: consumer,
 * lease ms, offset, then the 0-based indexes of the streams to give back. Returns the share, then the indexes of the
 * streams whose lease the instance holds.
 */
const TICK_SCRIPT = `
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local me, ms, offset = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
for a = 4, #ARGV do
  local key = KEYS[tonumber(ARGV[a]) + 2]
  if redis.call('GET', key) == me then redis.call('DEL', key) end
end
redis.call('ZADD', KEYS[1], nowMs + ms, me)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', nowMs)
redis.call('PEXPIRE', KEYS[1], ms * 2)
local streams = #KEYS - 1
local readers = redis.call('ZRANGE', KEYS[1], 0, -1)
local floor = math.floor(streams / #readers)
local counts, holders = {}, {}
for i = 1, streams do
  holders[i] = redis.call('GET', KEYS[i + 1])
  if holders[i] then counts[holders[i]] = (counts[holders[i]] or 0) + 1 end
end
-- Up to ceil(streams / readers) each, but only floor while another reader holds fewer than floor: every reader ends
-- with floor or ceil, and none is left without its share.
local share = math.ceil(streams / #readers)
for _, reader in ipairs(readers) do
  if (counts[reader] or 0) < floor then share = floor end
end
local held = {}
for i = 1, streams do
  if holders[i] == me then
    redis.call('PEXPIRE', KEYS[i + 1], ms)
    held[#held + 1] = i - 1
  end
end
for k = 0, streams - 1 do
  if #held >= share then break end
  local i = (offset + k) % streams
  if redis.call('SET', KEYS[i + 2], me, 'NX', 'PX', ms) then held[#held + 1] = i end
end
table.insert(held, 1, share)
return held
`;

/** Leaves ordered ingest: unregisters the instance and gives back every lease it holds. KEYS: readers, leases. ARGV: consumer. */
const LEAVE_SCRIPT = `
redis.call('ZREM', KEYS[1], ARGV[1])
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then redis.call('DEL', KEYS[i]) end
end
return 0
`;

/**
 * Moves one pending entry to the dead-letter stream, once: XACK answers 1 only to the first instance that tries.
 * KEYS: stream, dead-letter stream. ARGV: group, entry id, attempts, error, consumer. Returns the entry's pattern.
 */
const DEAD_LETTER_SCRIPT = `
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return false end
local entry = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])[1]
local pattern, data = 'unknown', ''
if entry then
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 'pattern' then pattern = fields[i + 1] elseif fields[i] == 'data' then data = fields[i + 1] end
  end
end
redis.call('XADD', KEYS[2], '*', 'pattern', pattern, 'data', data, 'stream', KEYS[1], 'entry', ARGV[2], 'attempts', ARGV[3], 'error', ARGV[4], 'consumer', ARGV[5])
redis.call('XDEL', KEYS[1], ARGV[2])
return pattern
`;

function field(fields: readonly string[], name: string): string | undefined {
  for (let index = 0; index + 1 < fields.length; index += 2) if (fields[index] === name) return fields[index + 1];
  return undefined;
}

function parseData(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return new MalformedCommand(CommandRejectReasons.NotJson, 'the data field is not JSON');
  }
}

/** Nest's deserializers take the parsed message, or the raw string when it is not JSON. */
function parseJson(message: string): unknown {
  try {
    return JSON.parse(message) as unknown;
  } catch {
    return message;
  }
}

const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** An Error's message; Nest's RPC error objects (`{ status: 'error', message }`) give their message too. */
function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  if (typeof error === 'string') return error;
  if (typeof error === 'object' && error !== null && 'message' in error && typeof error.message === 'string') return error.message;
  return jsonText(error) || 'unknown error';
}
