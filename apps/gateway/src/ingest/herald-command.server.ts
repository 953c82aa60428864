import { Logger } from '@nestjs/common';
import { BaseRpcContext, Server, type CustomTransportStrategy, type MessageHandler, type WritePacket } from '@nestjs/microservices';
import {
  COMMAND_GROUP,
  COMMAND_STREAM,
  CommandRejectReasons,
  DEAD_LETTER_STREAM,
  INGEST_LEASE_KEY,
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
   * True: one instance at a time reads the stream (it holds a lease in Redis), so commands are stored in stream order,
   * which is publish order for one publisher. False: every instance reads (more ingest throughput, but two commands
   * read by different instances at the same moment may be stored in either order).
   */
  ordered: boolean;
  /** How long the reader's lease lasts without renewal: how soon another instance reads after the reader died. */
  leaseMs: number;
  /** Entries per XREADGROUP / reclaim round. */
  batchSize?: number;
  /** How long one XREADGROUP blocks waiting for entries. */
  blockMs?: number;
  /**
   * After a read that brought more than one entry but not a full batch, how long to wait before the next read (0: none).
   * Under load the next read then brings more entries at once: fewer reads, store writes and acknowledgements per
   * command, for Herald and for Redis. A read of one entry (a quiet stream) is followed by the next read at once.
   */
  readWaitMs?: number;
  /**
   * How long handled entries wait to be acknowledged together (default 20 ms), unless many are waiting or the server
   * closes. An acknowledgement changes nothing for delivery (the notification is stored and routed before it): a later
   * one only means fewer Redis calls. What a crash leaves unacknowledged is handled again and deduplicated by the store.
   * At most a tenth of claimIdleMs, so that no entry handled here looks idle (to be claimed again) before it is.
   */
  ackDelayMs?: number;
  /** Told of every failed attempt and of every entry moved to the dead-letter stream (metrics). */
  onFailure?: (pattern: string) => void;
  onDeadLetter?: (pattern: string) => void;
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
/** Handled entries waiting for their acknowledgement that make it go at once (see ackDelayMs). */
const ACK_BATCH = 500;

/**
 * Herald's command transport: the `@EventPattern` / `@MessagePattern` handlers of the ingest module, fed from two
 * sources.
 *
 * - **The command stream** (durable): every instance reads `herald:{commands}` through one consumer group, so each
 *   command is handled by one instance. An entry is acknowledged (and deleted) only once its handler resolved, i.e.
 *   once the notification is stored and routed. Entries idle longer than `claimIdleMs` (their instance died, or the
 *   handler failed) are claimed again by any instance; an entry delivered `maxAttempts` times goes to the dead-letter
 *   stream with its last error, in one script, so two instances cannot both move it.
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
  private readonly ackDelayMs: number;
  private readonly readWaitMs: number;
  private reclaimTimer: NodeJS.Timeout | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  /** Whether this instance reads the stream now: always when not ordered, while it holds the lease when ordered. */
  private reader = false;
  private reclaimRounds = 0;
  private closed = false;
  private reading: Promise<void> | undefined;
  /** Entries handled and waiting for their acknowledgement (acknowledge()). */
  private ackIds: string[] = [];
  private acking: Promise<void> | undefined;
  /** Ends the acknowledgement's wait at once (close()). */
  private ackNow: (() => void) | undefined;

  constructor(private readonly options: HeraldCommandServerOptions) {
    super();
    this.initializeSerializer({});
    this.initializeDeserializer({ deserializer: new CommandDeserializer() });
    this.batchSize = options.batchSize ?? 100;
    this.blockMs = options.blockMs ?? 1000;
    this.ackDelayMs = Math.min(options.ackDelayMs ?? 20, options.claimIdleMs / 10);
    this.readWaitMs = options.readWaitMs ?? 0;
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
    this.ackNow?.();
    await this.acking;
    // The next reader need not wait for the lease to expire: a rolling deploy leaves no gap in ingest.
    if (this.options.ordered && this.writer.status === 'ready') {
      await this.writer.eval(RELEASE_SCRIPT, 1, INGEST_LEASE_KEY, this.options.consumer).catch(() => undefined);
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

  /** Takes the lease when it is free, renews it while held; every leaseMs / 3. Unordered: every instance reads. */
  private async tickLease(): Promise<void> {
    const { ordered, leaseMs, consumer } = this.options;
    if (!ordered) {
      this.reader = true;
      return;
    }
    try {
      const held = ((await this.writer.eval(LEASE_SCRIPT, 1, INGEST_LEASE_KEY, consumer, leaseMs)) as number) === 1;
      if (this.reader && !held) {
        this.reader = false;
        this.log.warn('lost the command stream lease: another instance reads the stream now');
      } else if (!this.reader && held) {
        this.log.log('took the command stream lease: this instance reads the stream');
        // What the previous reader read and never acknowledged comes first, in stream order, however recently it was
        // read: that reader stopped renewing its lease a lease ago (it died, or lost Redis). Waiting for those entries
        // to be idle claimIdleMs would delay its last commands by that much; if it was only slow and still stores
        // them, the store's dedupe by id keeps one copy.
        await this.reclaimFromPreviousReader();
        this.reader = true;
      }
    } catch (error) {
      // Unknown whether the lease is still ours: stop reading until it is confirmed.
      this.reader = false;
      if (!this.isClosed()) this.log.warn(`command stream lease: ${describe(error)}`);
    }
    if (!this.isClosed()) this.leaseTimer = setTimeout(() => void this.tickLease(), Math.max(50, Math.floor(leaseMs / 3)));
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

  /** The group starts at the beginning of the stream: commands published before any gateway ran are handled too. */
  private async ensureGroup(): Promise<void> {
    try {
      await this.writer.xgroup('CREATE', COMMAND_STREAM, COMMAND_GROUP, '0', 'MKSTREAM');
    } catch (error) {
      if (!String(error).includes('BUSYGROUP')) throw error;
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
   * are unfinished at once. Under load (a read of several entries) the next read waits readWaitMs.
   */
  private async readLoop(): Promise<void> {
    const reader = this.role(RedisClientRoles.Ingest);
    const inFlight = new Set<Promise<void>>();
    while (!this.closed) {
      if (!this.reader) {
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
          COMMAND_STREAM,
          '>',
        );
      } catch (error) {
        if (this.isClosed()) return;
        // A Redis that lost its data (no persistence) has no group any more: create it again.
        if (String(error).includes('NOGROUP')) await this.ensureGroup().catch(() => undefined);
        else this.log.warn(`reading the command stream failed: ${String(error)}`);
        await delay(200);
        continue;
      }
      // One stream asked, so one [name, entries] pair, or null when the block timed out.
      const streams = reply as Array<[string, StreamEntry[]]> | null;
      if (streams === null || streams.length === 0) continue;
      const entries = streams[0][1];
      const batch = this.process(entries).finally(() => inFlight.delete(batch));
      inFlight.add(batch);
      if (this.readWaitMs > 0 && entries.length > 1 && entries.length < this.batchSize) await delay(this.readWaitMs);
    }
    await Promise.all(inFlight);
  }

  /**
   * Handles a batch: every handler is started in stream order before any is awaited, so their store calls reach Redis
   * in that order. Acknowledges (and deletes) the entries whose handler succeeded; the others stay pending.
   */
  private async process(entries: readonly StreamEntry[]): Promise<void> {
    const outcomes = await Promise.all(entries.map(([id, fields]) => this.handleEntry(id, fields)));
    const done = entries.filter((_, index) => outcomes[index]).map(([id]) => id);
    // Not awaited: the next read need not wait for this acknowledgement's round trip (close() waits for it).
    if (done.length > 0) this.acknowledge(done);
  }

  /**
   * Acknowledges (and deletes) entries ackDelayMs after the first of them, together with those of the batches finished
   * meanwhile: at 3,000 commands/s a read brings 3-4 entries, and an XACK + XDEL for each batch was Redis work for
   * nothing. `acking` is settled once nothing is left to acknowledge.
   */
  private acknowledge(ids: readonly string[]): void {
    for (const id of ids) this.ackIds.push(id);
    if (this.ackIds.length >= ACK_BATCH) this.ackNow?.();
    this.acking ??= this.flushAcks();
  }

  private async flushAcks(): Promise<void> {
    while (this.ackIds.length > 0) {
      if (!this.closed && this.ackIds.length < ACK_BATCH) await this.ackPause();
      const ids = this.ackIds;
      this.ackIds = [];
      try {
        // Sent together, not as a transaction: MULTI/EXEC would be two more commands for nothing (an entry deleted but
        // still pending is dropped from the pending list by the next claim).
        await this.writer
          .pipeline()
          .xack(COMMAND_STREAM, COMMAND_GROUP, ...ids)
          .xdel(COMMAND_STREAM, ...ids)
          .exec();
      } catch (error) {
        // Not acknowledged: they are claimed again later and deduplicated by the store.
        this.log.warn(`acknowledging ${ids.length} command(s) failed: ${String(error)}`);
      }
    }
    this.acking = undefined;
  }

  private ackPause(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.ackNow?.(), this.ackDelayMs);
      this.ackNow = () => {
        clearTimeout(timer);
        this.ackNow = undefined;
        resolve();
      };
    });
  }

  /** True when the entry is done with (handled, or unusable and dead-lettered); false to retry it later. */
  private async handleEntry(id: string, fields: readonly string[]): Promise<boolean> {
    const pattern = field(fields, 'pattern');
    const handler = pattern === undefined ? undefined : this.messageHandlers.get(pattern);
    if (pattern === undefined || handler === undefined || !handler.isEventHandler) {
      // Nothing could ever handle it: an operator should see it, so it goes where failed commands go.
      await this.deadLetter(id, 1, `no event handler for pattern ${JSON.stringify(pattern ?? null)}`).catch(() => undefined);
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
      this.reclaim()
        .catch((error: unknown) => {
          if (!this.closed) this.log.warn(`reclaiming idle commands failed: ${String(error)}`);
        })
        .finally(() => this.scheduleReclaim());
    }, interval);
  }

  /** Every entry other instances read and did not acknowledge, whatever its idle time, batch after batch. */
  private async reclaimFromPreviousReader(): Promise<void> {
    // Through the pending list in id order, a batch at a time (bounded: the list is finite and each round moves on).
    let after = '-';
    for (let round = 0; round < 10_000 && !this.closed; round++) {
      const last = await this.reclaim(0, true, after);
      if (last === undefined) return;
      after = `(${last}`;
    }
  }

  /**
   * Entries idle for minIdleMs (of other instances only, with `othersOnly`): dead-letter those delivered maxAttempts
   * times, claim and handle the others. Returns the id of the last pending entry it looked at when it saw a full
   * batch (there may be more after it), else undefined.
   */
  private async reclaim(minIdleMs = this.options.claimIdleMs, othersOnly = false, after = '-'): Promise<string | undefined> {
    const { maxAttempts, consumer } = this.options;
    const pending = (await this.writer.call('XPENDING', COMMAND_STREAM, COMMAND_GROUP, 'IDLE', minIdleMs, after, '+', this.batchSize)) as Array<
      [string, string, number, number]
    >;
    const retry: string[] = [];
    for (const [id, owner, , deliveries] of pending) {
      if (othersOnly && owner === consumer) continue;
      if (deliveries >= maxAttempts) await this.deadLetter(id, deliveries, this.lastErrors.get(id) ?? 'failed on an instance that is gone');
      else retry.push(id);
    }
    if (retry.length > 0) {
      const claimed = (await this.writer.call('XCLAIM', COMMAND_STREAM, COMMAND_GROUP, consumer, minIdleMs, ...retry)) as Array<[string, string[] | null] | null>;
      // An entry deleted meanwhile comes back empty (or not at all): nothing to do for it.
      await this.process(claimed.filter((entry): entry is StreamEntry => entry?.[1] != null));
    }
    if (++this.reclaimRounds % 100 === 0) await this.forgetIdleConsumers();
    return pending.length < this.batchSize ? undefined : pending.at(-1)?.[0];
  }

  private async deadLetter(id: string, attempts: number, error: string): Promise<void> {
    const moved = (await this.writer.eval(
      DEAD_LETTER_SCRIPT,
      2,
      COMMAND_STREAM,
      DEAD_LETTER_STREAM,
      COMMAND_GROUP,
      id,
      String(attempts),
      error,
      this.options.consumer,
    )) as string | null;
    this.lastErrors.delete(id);
    if (moved === null) return;
    this.options.onDeadLetter?.(moved);
    this.log.error(`command ${id} (${moved}) moved to ${DEAD_LETTER_STREAM} after ${attempts} attempt(s): ${error}`);
  }

  /** Instances come and go with new names; a consumer with nothing pending and idle for an hour is forgotten. */
  private async forgetIdleConsumers(): Promise<void> {
    const consumers = (await this.writer.call('XINFO', 'CONSUMERS', COMMAND_STREAM, COMMAND_GROUP)) as unknown[][];
    for (const info of consumers) {
      const name = String(info[info.indexOf('name') + 1]);
      const pending = Number(info[info.indexOf('pending') + 1]);
      const idle = Number(info[info.indexOf('idle') + 1]);
      if (name !== this.options.consumer && pending === 0 && idle > 3_600_000) await this.writer.xgroup('DELCONSUMER', COMMAND_STREAM, COMMAND_GROUP, name);
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
 * Takes the lease when nobody holds it, renews it when this instance does (also after a failed renewal: the lease is
 * still its own until it expires). Returns 1 while held. KEYS: lease. ARGV: consumer, lease ms.
 */
const LEASE_SCRIPT = `
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
`;

/** Gives the lease up if this instance holds it. KEYS: lease. ARGV: consumer. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
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
redis.call('XADD', KEYS[2], '*', 'pattern', pattern, 'data', data, 'entry', ARGV[2], 'attempts', ARGV[3], 'error', ARGV[4], 'consumer', ARGV[5])
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
