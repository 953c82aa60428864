import { createHash, randomBytes } from 'node:crypto';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { FeedKeys, FeedPosition } from '@herald/contracts';
import { createRedisClient, onConnectionChange, whenReady } from '@herald/redis-io-adapter';
import type { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config.js';
import { ACK_SCRIPT, APPEND_SCRIPT, LIST_SCRIPT, MARK_ALL_READ_SCRIPT, MARK_READ_SCRIPT, READ_SCRIPT, STATUS_SCRIPT } from './inbox-scripts.js';

/** A notification to store: its envelope is complete but for the cursor, which only the store can give it. */
export interface NewNotification {
  id: string;
  /** The envelope as JSON without its closing brace; the store appends `,"cursor":"…"}`. */
  envelopePrefix: string;
  /** The command pattern it came from (reported with deliveries). */
  pattern: string;
  createdAtMs: number;
}

export interface AppendResult {
  /** False when the id was already stored (a retry): nothing was stored or routed again. */
  stored: boolean;
  position: FeedPosition;
}

export interface StoredNotification {
  seq: number;
  /** The `notification` envelope as stored: JSON text with its cursor. */
  envelopeJson: string;
}

/** The read state of a feed at its head (a user's inbox; the broadcast feed has none). */
export interface ReadStateView {
  /** Retained notifications not read. */
  unread: number;
  /** Everything up to this sequence number is read (0: no mark). */
  readUpTo: number;
  /** Moves with every change of the count other than an append: the order of read-state messages. */
  version: number;
}

/** A consistent view of one feed. */
export interface FeedRange extends ReadStateView {
  /** Null when the feed does not exist (never written, or expired). */
  epoch: string | null;
  /** The latest sequence number (0 for an empty feed). */
  head: number;
  /** Up to `limit` notifications after the asked position, in order. */
  items: StoredNotification[];
  /** The oldest retained sequence number, null when nothing is retained. */
  firstRetained: number | null;
}

/**
 * Where notifications are kept (Centrifuge's "history"): append once, read after a position. Routing to instances is
 * the append's side effect (the script publishes what it stored), so nothing can be routed that was not stored.
 */
export abstract class InboxStore {
  abstract append(feed: FeedKeys, notification: NewNotification): Promise<AppendResult>;
  abstract readAfter(feed: FeedKeys, afterSeq: number, limit: number): Promise<FeedRange>;
}

/**
 * What users do with their inbox besides receiving it: page through it, mark read, acknowledge delivery, and what a
 * publisher asks of one notification. Every change of the read state is routed like a notification, in order with them.
 */
export abstract class InboxState {
  /** Newest first, older than `beforeSeq` (0: from the newest). */
  abstract list(feed: FeedKeys, beforeSeq: number, limit: number): Promise<InboxPage>;
  abstract markRead(feed: FeedKeys, ids: readonly string[]): Promise<MarkReadResult>;
  /** Undefined when `upTo` names no notification this feed issued. */
  abstract markAllRead(feed: FeedKeys, upTo: FeedPosition | null): Promise<MarkReadResult | undefined>;
  /** `heldMs`: how long ago the acknowledgement arrived (it was gathered with others): the mark's time is then. */
  abstract acknowledge(feed: FeedKeys, position: FeedPosition, heldMs?: number): Promise<AckResult>;
  abstract status(feed: FeedKeys, id: string): Promise<StoredStatus | undefined>;
}

export interface InboxPage {
  epoch: string | null;
  items: Array<StoredNotification & { read: boolean }>;
  /** Whether older notifications are retained. */
  more: boolean;
}

export interface MarkReadResult extends ReadStateView {
  epoch: string | null;
  head: number;
  /** Ids (markRead) newly marked by this call, or whether the mark moved (markAllRead): nothing changed when empty/false. */
  changed: string[] | boolean;
}

export type AckResult = { outcome: 'stale' } | { outcome: 'unchanged' } | { outcome: 'advanced'; ageMs: number | null };

/** Where a stored notification stands; times in ms (0: known to have happened, time unknown). */
export interface StoredStatus {
  position: FeedPosition;
  storedAtMs: number | null;
  deliveredAtMs: number | null;
  readAtMs: number | null;
}

// Lua's false arrives as null (RESP2) or false (RESP3).
type Nil = null | false;
type ReadReply = [string | Nil, number, Array<[string, string[]]>, string | Nil, number, string | Nil, number];
type ListReply = [string | Nil, Array<[number, string, number]>, number];
type MarkReply = [string | Nil, number, number, string | Nil, number, ...unknown[]];
type StatusReply = [0] | [1, string, number, string | Nil, string | Nil, string | Nil];

/** The inbox in Redis Streams, one stream per feed (inbox-scripts.ts). */
@Injectable()
export class RedisInboxStore extends InboxStore implements InboxState, OnApplicationShutdown {
  readonly client: Redis;
  private readonly maxLength: string;
  private readonly maxAgeMs: string;
  private readonly metaTtlMs: string;

  constructor(config: AppConfig) {
    super();
    this.client = createRedisClient(config.redis.url);
    this.client.on('ready', () => {
      // A script missing from Redis' cache makes its EVALSHA fail and go again as EVAL, after appends sent later: out
      // of order. connect() waits for this before the gateway takes any command; after a reconnection, appends queued
      // while Redis was away are sent before it.
      this.scriptsLoaded = this.loadScripts();
    });
    this.maxLength = String(config.inbox.maxLength);
    this.maxAgeMs = String(config.inbox.maxAgeMs);
    this.metaTtlMs = String(config.inbox.metaTtlMs);
  }

  onConnectionChange(listener: (connected: boolean) => void): void {
    onConnectionChange(this.client, listener);
  }

  async connect(): Promise<void> {
    await whenReady(this.client);
    await this.scriptsLoaded;
  }

  private scriptsLoaded: Promise<void> = Promise.resolve();

  private async loadScripts(): Promise<void> {
    await Promise.all(SCRIPTS.map((script) => this.client.script('LOAD', script.source))).catch(() => undefined);
  }

  async append(feed: FeedKeys, notification: NewNotification): Promise<AppendResult> {
    this.coalesceWrites();
    const [stored, epoch, seq] = (await this.run(
      APPEND,
      [feed.meta, feed.log, feed.ids, feed.reads, feed.readAt, feed.readMarks, feed.ackMarks],
      [
        notification.id,
        notification.envelopePrefix,
        feed.route,
        this.maxLength,
        this.maxAgeMs,
        this.metaTtlMs,
        newEpoch(),
        notification.pattern,
        String(notification.createdAtMs),
      ],
    )) as [number, string, number];
    return { stored: stored === 1, position: { epoch, seq } };
  }

  async readAfter(feed: FeedKeys, afterSeq: number, limit: number): Promise<FeedRange> {
    const [epoch, head, entries, firstId, unread, readUpTo, version] = (await this.run(
      READ,
      [feed.meta, feed.log, feed.reads],
      [String(afterSeq), String(limit)],
    )) as ReadReply;
    return {
      epoch: stringOrNull(epoch),
      head,
      items: entries.map(([id, fields]) => ({ seq: seqOf(id), envelopeJson: fields[1] ?? 'null' })),
      firstRetained: typeof firstId === 'string' ? seqOf(firstId) : null,
      unread,
      readUpTo: seqOfCursor(readUpTo),
      version,
    };
  }

  async list(feed: FeedKeys, beforeSeq: number, limit: number): Promise<InboxPage> {
    const [epoch, items, more] = (await this.run(LIST, [feed.meta, feed.log, feed.reads], [String(beforeSeq), String(limit)])) as ListReply;
    return { epoch: stringOrNull(epoch), items: items.map(([seq, envelopeJson, read]) => ({ seq, envelopeJson, read: read === 1 })), more: more === 1 };
  }

  async markRead(feed: FeedKeys, ids: readonly string[]): Promise<MarkReadResult> {
    const reply = (await this.run(MARK_READ, [feed.meta, feed.log, feed.ids, feed.reads, feed.readAt], [feed.route, this.maxAgeMs, ...ids])) as MarkReply;
    return { ...markResult(reply), changed: reply.slice(5).map(String) };
  }

  async markAllRead(feed: FeedKeys, upTo: FeedPosition | null): Promise<MarkReadResult | undefined> {
    const reply = (await this.run(
      MARK_ALL_READ,
      [feed.meta, feed.log, feed.reads, feed.readMarks],
      [feed.route, this.maxAgeMs, upTo?.epoch ?? '', String(upTo?.seq ?? 0)],
    )) as MarkReply;
    if (reply[1] === -1) return undefined;
    return { ...markResult(reply), changed: reply[5] === 1 };
  }

  async acknowledge(feed: FeedKeys, position: FeedPosition, heldMs = 0): Promise<AckResult> {
    const [outcome, ageMs] = (await this.runBatched(
      ACK,
      [feed.meta, feed.log, feed.ackMarks],
      [position.epoch, String(position.seq), this.maxAgeMs, String(Math.max(0, Math.round(heldMs)))],
    )) as [number, number?];
    if (outcome === -1) return { outcome: 'stale' };
    if (outcome === 0) return { outcome: 'unchanged' };
    return { outcome: 'advanced', ageMs: ageMs === undefined || ageMs < 0 ? null : ageMs };
  }

  async status(feed: FeedKeys, id: string): Promise<StoredStatus | undefined> {
    const reply = (await this.run(STATUS, [feed.meta, feed.log, feed.ids, feed.readAt, feed.readMarks, feed.ackMarks], [id])) as StatusReply;
    if (reply[0] === 0) return undefined;
    const [, epoch, seq, storedAt, deliveredAt, readAt] = reply;
    return { position: { epoch, seq }, storedAtMs: msOrNull(storedAt), deliveredAtMs: msOrNull(deliveredAt), readAtMs: msOrNull(readAt) };
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.client.status === 'ready') await this.client.quit();
    else this.client.disconnect();
  }

  /**
   * The appends of one batch of commands are issued in the same run of microtasks: corking the connection until then
   * sends them in one write (one system call) instead of one each, in the same order. Nothing waits longer: the
   * connection is uncorked as soon as the microtasks are done.
   */
  private coalesceWrites(): void {
    if (this.corked || this.client.status !== 'ready') return;
    const stream = this.client.stream;
    this.corked = true;
    stream.cork();
    process.nextTick(() => {
      this.corked = false;
      stream.uncork();
    });
  }

  private corked = false;

  /**
   * Like run(), but calls made in the same turn of the event loop go to Redis together, as one pipeline at the end of
   * the turn: one write and one read for all of them instead of one each. For delivery acknowledgements, which arrive
   * from many sockets at once (one per client every 250 ms at most) and need no answer soon.
   */
  private runBatched(script: LoadedScript, keys: string[], args: string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.batch.push({ script, keys, args, resolve, reject });
      if (this.batch.length === 1) setImmediate(() => void this.flushBatch());
    });
  }

  private batch: BatchedCall[] = [];

  private async flushBatch(): Promise<void> {
    const calls = this.batch;
    this.batch = [];
    const pipeline = this.client.pipeline();
    for (const { script, keys, args } of calls) pipeline.evalsha(script.sha, keys.length, ...keys, ...args);
    let replies: Array<[Error | null, unknown]> | null;
    try {
      replies = await pipeline.exec();
    } catch (error) {
      for (const call of calls) call.reject(error);
      return;
    }
    calls.forEach((call, index) => {
      const [error, reply] = replies?.[index] ?? [new Error('no reply from Redis'), undefined];
      // NOSCRIPT (Redis restarted under the connection): that call goes again alone, as run() does.
      if (error?.message.startsWith('NOSCRIPT')) this.run(call.script, call.keys, call.args).then(call.resolve, call.reject);
      else if (error) call.reject(error);
      else call.resolve(reply);
    });
  }

  /**
   * EVALSHA, and EVAL once when Redis does not have the script. The scripts are loaded on every (re)connection, so
   * that happens only when Redis restarted under an open connection, and then appends in flight at that moment may
   * be stored out of their order.
   */
  private async run(script: LoadedScript, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await this.client.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.client.eval(script.source, keys.length, ...keys, ...args);
    }
  }
}

interface LoadedScript {
  source: string;
  sha: string;
}

interface BatchedCall {
  script: LoadedScript;
  keys: string[];
  args: string[];
  resolve: (reply: unknown) => void;
  reject: (error: unknown) => void;
}

const load = (source: string): LoadedScript => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const APPEND = load(APPEND_SCRIPT);
const READ = load(READ_SCRIPT);
const LIST = load(LIST_SCRIPT);
const MARK_READ = load(MARK_READ_SCRIPT);
const MARK_ALL_READ = load(MARK_ALL_READ_SCRIPT);
const ACK = load(ACK_SCRIPT);
const STATUS = load(STATUS_SCRIPT);
const SCRIPTS = [APPEND, READ, LIST, MARK_READ, MARK_ALL_READ, ACK, STATUS];

const seqOf = (entryId: string): number => Number(entryId.slice(0, entryId.indexOf('-')));
const stringOrNull = (value: string | Nil): string | null => (typeof value === 'string' ? value : null);
/** A cursor the scripts built (`<epoch>.<seq>`), as its seq; 0 for none. */
const seqOfCursor = (cursor: string | Nil): number => (typeof cursor === 'string' ? Number(cursor.slice(cursor.indexOf('.') + 1)) : 0);
const msOrNull = (value: string | Nil): number | null => (typeof value === 'string' ? Number(value) : null);
const markResult = ([epoch, head, unread, readUpTo, version]: MarkReply): Omit<MarkReadResult, 'changed'> => ({
  epoch: stringOrNull(epoch),
  head,
  unread,
  readUpTo: seqOfCursor(readUpTo),
  version,
});

/**
 * The epoch a feed gets if this append creates it. Only a feed with no meta (new, expired, or lost) takes it, so it must
 * differ from any epoch the same feed had before: the time in milliseconds, the instance's random part and a counter of
 * this instance's appends (a feed whose meta vanished between two appends of the same millisecond gets another epoch)
 * make it unique. Cheaper than random bytes for every append, which is what this is computed for.
 */
const INSTANCE_SALT = randomBytes(3).toString('hex').slice(0, 4);
let epochCounter = 0;
const newEpoch = (): string => `${Date.now().toString(36)}${INSTANCE_SALT}${(epochCounter++ % 1296).toString(36).padStart(2, '0')}`;
