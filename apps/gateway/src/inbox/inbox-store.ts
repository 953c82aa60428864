import { createHash, randomBytes } from 'node:crypto';
import { Injectable, type OnApplicationShutdown } from '@nestjs/common';
import type { FeedKeys, FeedPosition } from '@herald/contracts';
import { createRedisClient, onConnectionChange, whenReady } from '@herald/redis-io-adapter';
import type { Redis } from 'ioredis';
import { AppConfig } from '../config/app-config.js';
import { APPEND_SCRIPT, READ_SCRIPT } from './inbox-scripts.js';

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

/** A consistent view of one feed. */
export interface FeedRange {
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

// Lua's false arrives as null (RESP2) or false (RESP3).
type ReadReply = [string | null | false, number, Array<[string, string[]]>, string | null | false];

/** The inbox in Redis Streams, one stream per feed (inbox-scripts.ts). */
@Injectable()
export class RedisInboxStore extends InboxStore implements OnApplicationShutdown {
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
    await Promise.all([APPEND, READ].map((script) => this.client.script('LOAD', script.source))).catch(() => undefined);
  }

  async append(feed: FeedKeys, notification: NewNotification): Promise<AppendResult> {
    const [stored, epoch, seq] = (await this.run(
      APPEND,
      [feed.meta, feed.log, feed.ids],
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
    const [epoch, head, entries, firstId] = (await this.run(READ, [feed.meta, feed.log], [String(afterSeq), String(limit)])) as ReadReply;
    return {
      epoch: typeof epoch === 'string' ? epoch : null,
      head,
      items: entries.map(([id, fields]) => ({ seq: seqOf(id), envelopeJson: fields[1] ?? 'null' })),
      firstRetained: typeof firstId === 'string' ? seqOf(firstId) : null,
    };
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.client.status === 'ready') await this.client.quit();
    else this.client.disconnect();
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

const load = (source: string): LoadedScript => ({ source, sha: createHash('sha1').update(source).digest('hex') });
const APPEND = load(APPEND_SCRIPT);
const READ = load(READ_SCRIPT);

const seqOf = (entryId: string): number => Number(entryId.slice(0, entryId.indexOf('-')));

/**
 * The epoch a feed gets if this append creates it. Only a feed with no meta (new, expired, or lost) takes it, so it must
 * differ from any epoch the same feed had before: the time in milliseconds, the instance's random part and a counter of
 * this instance's appends (a feed whose meta vanished between two appends of the same millisecond gets another epoch)
 * make it unique. Cheaper than random bytes for every append, which is what this is computed for.
 */
const INSTANCE_SALT = randomBytes(3).toString('hex').slice(0, 4);
let epochCounter = 0;
const newEpoch = (): string => `${Date.now().toString(36)}${INSTANCE_SALT}${(epochCounter++ % 1296).toString(36).padStart(2, '0')}`;
