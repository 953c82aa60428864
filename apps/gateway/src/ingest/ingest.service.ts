import { Injectable } from '@nestjs/common';
import { RpcException } from '@nestjs/microservices';
import { BROADCAST_FEED_KEYS, Feeds, Patterns, userFeedKeys, type FeedKeys, type NotifyPattern } from '@herald/contracts';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { InboxStore } from '../inbox/inbox-store.js';
import { MetricsService } from '../ops/metrics.service.js';
import { CommandValidatorService } from './command-validator.service.js';
import { buildEnvelope, envelopePrefix } from './envelope.factory.js';

export type IngestOutcome = { accepted: true; stored: number; duplicates: number } | { accepted: false; reason: string };

/**
 * A notify command, validated, stored once in each of its feeds: the store routes it to the instances that hold the
 * user's sockets. Resolves once stored; rejects when the store failed (the command source retries). An invalid command
 * resolves as rejected: it is logged and counted, and retrying it would change nothing.
 */
@Injectable()
export class IngestService {
  constructor(
    private readonly validator: CommandValidatorService,
    private readonly store: InboxStore,
    private readonly metrics: MetricsService,
    @InjectPinoLogger(IngestService.name) private readonly logger: PinoLogger,
  ) {}

  async handle(pattern: NotifyPattern, raw: unknown, receivedAt = Date.now()): Promise<IngestOutcome> {
    this.metrics.commandReceived(pattern);
    const result = this.validator.validate(pattern, raw);
    if (!result.ok) {
      this.metrics.commandRejected(pattern, result.reason);
      this.logger.warn({ pattern, reason: result.reason, detail: result.detail }, 'command rejected');
      return { accepted: false, reason: result.reason };
    }
    const { command } = result;
    const envelope = buildEnvelope(pattern, command, raw, receivedAt);
    const broadcast = result.pattern === Patterns.NotifyBroadcast;
    const notification = {
      id: envelope.id,
      envelopePrefix: envelopePrefix(broadcast ? { ...envelope, feed: Feeds.Broadcast } : envelope),
      pattern,
      createdAtMs: command.sentAt ?? receivedAt,
    };
    const feeds: FeedKeys[] =
      result.pattern === Patterns.NotifyUser
        ? [userFeedKeys(result.command.userId)]
        : result.pattern === Patterns.NotifyUsers
          ? result.command.userIds.map(userFeedKeys)
          : [BROADCAST_FEED_KEYS];
    // notify.users fans out per user at store time: one script call per feed, each in its own slot, sent together.
    const results = await Promise.all(feeds.map((feed) => this.store.append(feed, notification))).catch((error: unknown) => {
      // Nest turns any other error into "Internal server error": the command source (retries, dead letters) and the
      // operator reading the dead-letter stream need the store's own words.
      throw new RpcException(`store failed: ${error instanceof Error ? error.message : String(error)}`);
    });
    let stored = 0;
    for (const appended of results) {
      if (appended.stored) {
        stored++;
        this.metrics.notificationStored(broadcast ? Feeds.Broadcast : Feeds.User);
      } else this.metrics.notificationDeduplicated();
    }
    return { accepted: true, stored, duplicates: results.length - stored };
  }
}
