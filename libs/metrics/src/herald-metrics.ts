import {
  CanaryFailureReasons,
  SessionEndReasons,
  type CanaryFailureReason,
  type SessionEndReason,
  ClientErrorKinds,
  ClientMessageLabels,
  ClientRequests,
  RequestErrorCodes,
  type ClientRequest,
  type RequestErrorCode,
  CommandRejectReasons,
  ConnectRefusalReasons,
  DisconnectReasonLabels,
  Feeds,
  isPattern,
  ResumeOutcomes,
  SessionRefreshOutcomes,
  SocketWritePaths,
  UNKNOWN_PATTERN_LABEL,
  NOTIFY_PATTERNS,
  Patterns,
  RedisClientRoles,
  type ClientErrorKind,
  type ClientMessageLabel,
  type CommandRejectReason,
  type ConnectRefusalReason,
  type DisconnectReasonLabel,
  type Feed,
  type ResumeOutcome,
  type SessionRefreshOutcome,
  type SocketWritePath,
  type NotifyPattern,
  type Pattern,
  type RedisClientRoleLabel,
} from '@herald/contracts';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { disconnectReasonLabel, engineErrorKind } from './label-maps.js';

export const METRIC_PREFIX = 'herald_';

/** Seconds, 1 ms to 10 s: a notification later than 10 s is simply "too late" (the +Inf bucket). */
export const DELIVERY_LATENCY_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Seconds, 0.5 ms to 2.5 s: a canary probe normally returns in about a millisecond; anything above its timeout is a failure. */
export const CANARY_ROUND_TRIP_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export interface HeraldMetricsOptions {
  /** The gateway's INSTANCE_ID (the `instance` field of its logs), exposed once by `herald_instance_info`. */
  instanceId: string;
  /** Node's default metrics (event loop, heap, GC, CPU), prefixed `herald_`. On unless a test turns them off. */
  defaultMetrics?: boolean;
}

const values = <T extends Record<string, string>>(constants: T): Array<T[keyof T]> => Object.values(constants) as Array<T[keyof T]>;

/** One child per label value, resolved once, so the hot path does a property lookup instead of building label objects. */
function childrenOf<V extends string, C>(labelValues: readonly V[], child: (value: V) => C): Record<V, C> {
  return Object.fromEntries(labelValues.map((value) => [value, child(value)])) as Record<V, C>;
}

/**
 * A counter child for the per-command path: increments are plain additions, handed to prom-client when it collects
 * (every scrape), so the hot path skips prom-client's per-call label validation and hashing. Scrapes see exact values.
 */
class DeferredCount {
  private pending = 0;

  constructor(private readonly child: Counter.Internal) {}

  add(value: number): void {
    this.pending += value;
  }

  flush(): void {
    if (this.pending === 0) return;
    this.child.inc(this.pending);
    this.pending = 0;
  }
}

/** The child for these labels, created at 0 so the series exists before anything happens. */
function zeroed<T extends string>(counter: Counter<T>, labels: Partial<Record<T, string>>): Counter.Internal {
  const child = counter.labels(labels);
  child.inc(0);
  return child;
}

/**
 * Every Herald metric, in a registry of its own. Label values come only from the closed sets in
 * `@herald/contracts`; every series exists from the start (at 0), so `rate()` and alert rules see a
 * zero instead of nothing. Names, types and labels are documented in docs/metrics.md.
 */
export class HeraldMetrics {
  readonly registry = new Registry();

  private connectedSocketsSource: () => number = () => 0;

  private readonly connectionsAccepted: Counter;
  private readonly connectionsRejected: Record<ConnectRefusalReason, Counter.Internal>;
  private readonly disconnections: Record<DisconnectReasonLabel, Counter.Internal>;
  private readonly commandsReceived: Record<Pattern, DeferredCount>;
  private readonly commandsRejected: Record<Pattern, Record<CommandRejectReason, Counter.Internal>>;
  private readonly notificationsDelivered: Record<NotifyPattern, DeferredCount>;
  private readonly deliveryLatency: Record<NotifyPattern, Histogram.Internal<'pattern'>>;
  private readonly clientMessages: Record<ClientMessageLabel, Counter.Internal>;
  private readonly clientRequestsRefused: Record<ClientRequest, Record<RequestErrorCode, Counter.Internal>>;
  private readonly acknowledged: Counter;
  private readonly ackLatency: Histogram;
  private readonly statusQueries: Record<'stored' | 'unknown', Counter.Internal>;
  private readonly clientErrors: Record<ClientErrorKind, Counter.Internal>;
  private readonly redisConnected: Record<RedisClientRoleLabel, Gauge.Internal<'role'>>;
  private readonly stored: Record<Feed, Counter.Internal>;
  private readonly deduplicated: Counter;
  private readonly replays: Record<Feed, Counter.Internal>;
  private readonly resumes: Record<ResumeOutcome, Counter.Internal>;
  private readonly sessionRefreshes: Record<SessionRefreshOutcome, Counter.Internal>;
  private readonly liveDuplicates: Counter;
  private readonly deadLettered: Record<Pattern | typeof UNKNOWN_PATTERN_LABEL, Counter.Internal>;
  private readonly ingestFailures: Counter;
  private readonly socketWrites: Record<SocketWritePath, DeferredCount>;
  private readonly fastJson: Gauge;
  private routeSubscriptionsSource: () => number = () => 0;
  private readonly sessionsEnded: Record<SessionEndReason, Counter.Internal>;
  private readonly canaryRoundTrip: Histogram;
  private readonly canaryFailures: Record<CanaryFailureReason, Counter.Internal>;
  private readonly canaryOk: Gauge;
  private readonly routeReconnects: Counter;
  private readonly queueUnmeasured: DeferredCount;

  constructor(options: HeraldMetricsOptions) {
    const registers = [this.registry];
    const name = (suffix: string): string => `${METRIC_PREFIX}${suffix}`;

    const connectedSockets: Gauge = new Gauge({
      name: name('connected_sockets'),
      help: 'Sockets connected to this instance right now.',
      registers,
      // Read at scrape time from the namespace itself, so it can never drift from the truth.
      collect: (): void => connectedSockets.set(this.connectedSocketsSource()),
    });
    new Gauge({
      name: name('instance_info'),
      help: "Always 1; instance_id is the gateway's INSTANCE_ID, the `instance` field of its logs.",
      labelNames: ['instance_id'],
      registers,
    }).set({ instance_id: options.instanceId }, 1);

    this.connectionsAccepted = new Counter({
      name: name('connections_accepted_total'),
      help: 'Socket.IO handshakes accepted (the token was valid).',
      registers,
    });
    const rejected = new Counter({
      name: name('connections_rejected_total'),
      help: 'Socket.IO handshakes refused, by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.connectionsRejected = childrenOf(values(ConnectRefusalReasons), (reason) => zeroed(rejected, { reason }));
    const disconnections = new Counter({
      name: name('disconnections_total'),
      help: "Sockets disconnected, by socket.io's disconnect reason.",
      labelNames: ['reason'],
      registers,
    });
    this.disconnections = childrenOf(values(DisconnectReasonLabels), (reason) => zeroed(disconnections, { reason }));

    const received = new Counter({
      name: name('commands_received_total'),
      help: 'Commands received from the Redis transport, by pattern, valid or not.',
      labelNames: ['pattern'],
      registers,
      collect: (): void => {
        for (const count of Object.values<DeferredCount>(this.commandsReceived)) count.flush();
      },
    });
    this.commandsReceived = childrenOf(values(Patterns), (pattern) => new DeferredCount(zeroed(received, { pattern })));
    const commandsRejected = new Counter({
      name: name('commands_rejected_total'),
      help: 'Commands rejected as invalid, by pattern and reason.',
      labelNames: ['pattern', 'reason'],
      registers,
    });
    this.commandsRejected = childrenOf(values(Patterns), (pattern) =>
      childrenOf(values(CommandRejectReasons), (reason) => zeroed(commandsRejected, { pattern, reason })),
    );
    const delivered = new Counter({
      name: name('notifications_delivered_total'),
      help: 'Notifications emitted to sockets of this instance (one per socket), by pattern.',
      labelNames: ['pattern'],
      registers,
      collect: (): void => {
        for (const count of Object.values<DeferredCount>(this.notificationsDelivered)) count.flush();
      },
    });
    this.notificationsDelivered = childrenOf(NOTIFY_PATTERNS, (pattern) => new DeferredCount(zeroed(delivered, { pattern })));
    const latency = new Histogram({
      name: name('delivery_latency_seconds'),
      help: "Seconds from the command's sentAt (or its receipt when it has none) to the emit, per command that reached a socket here.",
      labelNames: ['pattern'],
      buckets: [...DELIVERY_LATENCY_BUCKETS],
      registers,
    });
    this.deliveryLatency = childrenOf(NOTIFY_PATTERNS, (pattern) => {
      latency.zero({ pattern });
      return latency.labels({ pattern });
    });

    const clientMessages = new Counter({
      name: name('client_messages_received_total'),
      help: 'Events sent by clients, by request (inbox.list, inbox.read, inbox.readAll, inbox.ack, session.refresh; anything else is unexpected).',
      labelNames: ['event'],
      registers,
    });
    this.clientMessages = childrenOf(values(ClientMessageLabels), (event) => zeroed(clientMessages, { event }));
    const refused = new Counter({
      name: name('client_requests_refused_total'),
      help: 'Client requests answered with an error, by request and error code.',
      labelNames: ['event', 'code'],
      registers,
    });
    this.clientRequestsRefused = childrenOf(values(ClientRequests), (event) => childrenOf(values(RequestErrorCodes), (code) => zeroed(refused, { event, code })));
    this.acknowledged = new Counter({
      name: name('deliveries_acknowledged_total'),
      help: "Acknowledgements (inbox.ack) that moved a user's delivered-up-to mark.",
      registers,
    });
    this.ackLatency = new Histogram({
      name: name('publish_to_ack_seconds'),
      help: 'From storing a notification to the first acknowledgement that covers it (Redis clock both ends): what users see, acks batched every 250 ms included.',
      buckets: [...DELIVERY_LATENCY_BUCKETS, 30, 60, 300],
      registers,
    });
    const status = new Counter({
      name: name('status_queries_total'),
      help: 'notification.status requests answered, by whether the id was stored.',
      labelNames: ['result'],
      registers,
    });
    this.statusQueries = childrenOf(['stored', 'unknown'] as const, (result) => zeroed(status, { result }));
    const clientErrors = new Counter({
      name: name('client_errors_total'),
      help: 'Client connection errors, by kind: engine.io handshake errors and socket errors.',
      labelNames: ['kind'],
      registers,
    });
    this.clientErrors = childrenOf(values(ClientErrorKinds), (kind) => zeroed(clientErrors, { kind }));

    const redis = new Gauge({
      name: name('redis_connected'),
      help: 'Whether the Redis client of this role is connected (1) or not (0).',
      labelNames: ['role'],
      registers,
    });
    this.redisConnected = childrenOf(values(RedisClientRoles), (role) => {
      const child = redis.labels({ role });
      child.set(0);
      return child;
    });

    const stored = new Counter({
      name: name('notifications_stored_total'),
      help: 'Notifications this instance stored (once each, whatever the number of instances), by feed.',
      labelNames: ['feed'],
      registers,
    });
    this.stored = childrenOf(values(Feeds), (feed) => zeroed(stored, { feed }));
    this.deduplicated = new Counter({
      name: name('notifications_deduplicated_total'),
      help: 'Notifications not stored again because their id was already stored (a retry, or a pub/sub command every instance received).',
      registers,
    });
    this.deduplicated.inc(0);
    const replays = new Counter({
      name: name('notifications_replayed_total'),
      help: 'Stored notifications written to sockets by a resume or a catch-up, by feed.',
      labelNames: ['feed'],
      registers,
    });
    this.replays = childrenOf(values(Feeds), (feed) => zeroed(replays, { feed }));
    const resumes = new Counter({
      name: name('resumes_total'),
      help: "Connections by what their resume of the user's feed did: none (no cursor or nothing new), replayed, or a gap reason.",
      labelNames: ['outcome'],
      registers,
    });
    this.resumes = childrenOf(values(ResumeOutcomes), (outcome) => zeroed(resumes, { outcome }));
    const sessionRefreshes = new Counter({
      name: name('session_refreshes_total'),
      help: 'session.refresh requests by outcome: refreshed (the session now ends at the new exp) or why it was refused.',
      labelNames: ['outcome'],
      registers,
    });
    this.sessionRefreshes = childrenOf(values(SessionRefreshOutcomes), (outcome) => zeroed(sessionRefreshes, { outcome }));
    this.liveDuplicates = new Counter({
      name: name('live_duplicates_skipped_total'),
      help: 'Routed notifications not written to a socket because it already had them (a replay wrote them first).',
      registers,
    });
    this.liveDuplicates.inc(0);
    const deadLettered = new Counter({
      name: name('commands_dead_lettered_total'),
      help: 'Commands moved to the dead-letter stream after failing INGEST_MAX_ATTEMPTS times, by pattern.',
      labelNames: ['pattern'],
      registers,
    });
    this.deadLettered = childrenOf([...values(Patterns), UNKNOWN_PATTERN_LABEL], (pattern) => zeroed(deadLettered, { pattern }));
    this.ingestFailures = new Counter({
      name: name('ingest_failures_total'),
      help: 'Attempts to process a command from the command stream that failed (it is retried, then dead-lettered).',
      registers,
    });
    this.ingestFailures.inc(0);
    const writes = new Counter({
      name: name('socket_writes_total'),
      help: "Notification writes to sockets, by path: frame (one pre-built WebSocket frame) or engine (engine.io's own path, the fallback).",
      labelNames: ['path'],
      registers,
      collect: (): void => {
        for (const count of Object.values<DeferredCount>(this.socketWrites)) count.flush();
      },
    });
    this.socketWrites = childrenOf(values(SocketWritePaths), (path) => new DeferredCount(zeroed(writes, { path })));
    this.fastJson = new Gauge({
      name: name('socket_writer_fast_json'),
      help: 'Whether stored notifications are framed as JSON text without parsing (1), or parsed and encoded by socket.io (0).',
      registers,
    });
    const routeSubscriptions: Gauge = new Gauge({
      name: name('route_subscriptions'),
      help: 'Route channels this instance is subscribed to: one per user with a local socket, plus the broadcast feed.',
      registers,
      collect: (): void => routeSubscriptions.set(this.routeSubscriptionsSource()),
    });

    const sessionsEnded = new Counter({
      name: name('sessions_ended_total'),
      help: 'Sessions the server ended (after telling the client with session.ended), by reason.',
      labelNames: ['reason'],
      registers,
    });
    this.sessionsEnded = childrenOf(values(SessionEndReasons), (reason) => zeroed(sessionsEnded, { reason }));
    this.canaryRoundTrip = new Histogram({
      name: name('route_canary_round_trip_seconds'),
      help: "Seconds from SPUBLISH of the instance's canary probe to its arrival through the route subscriber.",
      buckets: [...CANARY_ROUND_TRIP_BUCKETS],
      registers,
    });
    const canaryFailures = new Counter({
      name: name('route_canary_failures_total'),
      help: 'Canary probes that did not come back, by reason: timeout (subscriber deaf?), no_subscriber, publish_error.',
      labelNames: ['reason'],
      registers,
    });
    this.canaryFailures = childrenOf(values(CanaryFailureReasons), (reason) => zeroed(canaryFailures, { reason }));
    this.canaryOk = new Gauge({
      name: name('route_canary_ok'),
      help: 'Whether the latest canary probe came back through the route subscriber in time (1) or not (0); readiness follows it.',
      registers,
    });
    this.routeReconnects = new Counter({
      name: name('route_subscriber_reconnects_total'),
      help: 'Route subscriber connections dropped and reopened because ROUTE_CANARY_MAX_MISSES probes in a row did not come back.',
      registers,
    });
    this.routeReconnects.inc(0);
    const unmeasured = new Counter({
      name: name('socket_queue_unmeasured_total'),
      help: "Checks of a socket's queued bytes that could not read the WebSocket's buffered amount (a dependency changed): only engine.io's queue was counted.",
      registers,
      collect: (): void => this.queueUnmeasured.flush(),
    });
    this.queueUnmeasured = new DeferredCount(zeroed(unmeasured, {}));

    if (options.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry, prefix: METRIC_PREFIX });
      // prom-client creates the GC series at the first collection of each kind: an idle instance may have none yet.
      const gc = this.registry.getSingleMetric(name('nodejs_gc_duration_seconds'));
      if (gc instanceof Histogram) for (const kind of ['minor', 'major', 'incremental', 'weakcb']) gc.zero({ kind });
    }
  }

  /** The Prometheus text exposition of every metric. */
  async exposition(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Where `herald_connected_sockets` reads its value at scrape time. */
  countConnectedSocketsWith(source: () => number): void {
    this.connectedSocketsSource = source;
  }

  connectionAccepted(): void {
    this.connectionsAccepted.inc();
  }

  connectionRejected(reason: ConnectRefusalReason): void {
    this.connectionsRejected[reason].inc();
  }

  /** `reason` is socket.io's raw disconnect reason; unknown ones count as `other`. */
  disconnected(reason: string | undefined): void {
    this.disconnections[disconnectReasonLabel(reason)].inc();
  }

  commandReceived(pattern: Pattern): void {
    this.commandsReceived[pattern].add(1);
  }

  commandRejected(pattern: Pattern, reason: CommandRejectReason): void {
    this.commandsRejected[pattern][reason].inc();
  }

  /**
   * A notify command reached `sockets` local sockets. Latency runs from `startedAtMs` (the publisher's sentAt,
   * or this instance's receipt) to now; a sentAt in the future (publisher clock ahead) counts as 0.
   */
  delivered(pattern: NotifyPattern, sockets: number, startedAtMs: number): void {
    if (sockets <= 0) return;
    this.notificationsDelivered[pattern].add(sockets);
    this.deliveryLatency[pattern].observe(Math.max(0, Date.now() - startedAtMs) / 1000);
  }

  clientMessage(event: ClientMessageLabel = ClientMessageLabels.Unexpected): void {
    this.clientMessages[event].inc();
  }

  clientRequestRefused(event: ClientRequest, code: RequestErrorCode): void {
    this.clientRequestsRefused[event][code].inc();
  }

  /** An acknowledgement moved the delivered mark; `ageMs` is how long ago the newest notification it covers was stored. */
  deliveryAcknowledged(ageMs: number | null): void {
    this.acknowledged.inc();
    if (ageMs !== null) this.ackLatency.observe(Math.max(0, ageMs) / 1000);
  }

  statusQueried(stored: boolean): void {
    this.statusQueries[stored ? 'stored' : 'unknown'].inc();
  }

  clientError(kind: ClientErrorKind): void {
    this.clientErrors[kind].inc();
  }

  /** An engine.io `connection_error` (handshake level: unknown transport, unknown sid, bad request...). */
  engineConnectionError(code: unknown): void {
    this.clientErrors[engineErrorKind(code)].inc();
  }

  setRedisConnected(role: RedisClientRoleLabel, connected: boolean): void {
    this.redisConnected[role].set(connected ? 1 : 0);
  }

  /** Where `herald_route_subscriptions` reads its value at scrape time. */
  countRouteSubscriptionsWith(source: () => number): void {
    this.routeSubscriptionsSource = source;
  }

  notificationStored(feed: Feed): void {
    this.stored[feed].inc();
  }

  notificationDeduplicated(): void {
    this.deduplicated.inc();
  }

  replayed(feed: Feed, count: number): void {
    if (count > 0) this.replays[feed].inc(count);
  }

  sessionRefreshed(outcome: SessionRefreshOutcome): void {
    this.sessionRefreshes[outcome].inc();
  }

  resumed(outcome: ResumeOutcome): void {
    this.resumes[outcome].inc();
  }

  duplicateSkipped(): void {
    this.liveDuplicates.inc();
  }

  commandDeadLettered(pattern: string): void {
    this.deadLettered[isPattern(pattern) ? pattern : UNKNOWN_PATTERN_LABEL].inc();
  }

  ingestFailed(): void {
    this.ingestFailures.inc();
  }

  socketWrite(path: SocketWritePath): void {
    this.socketWrites[path].add(1);
  }

  setFastJsonFraming(on: boolean): void {
    this.fastJson.set(on ? 1 : 0);
  }

  sessionEnded(reason: SessionEndReason): void {
    this.sessionsEnded[reason].inc();
  }

  canaryReturned(seconds: number): void {
    this.canaryRoundTrip.observe(seconds);
  }

  canaryFailed(reason: CanaryFailureReason): void {
    this.canaryFailures[reason].inc();
  }

  setCanaryOk(ok: boolean): void {
    this.canaryOk.set(ok ? 1 : 0);
  }

  routeSubscriberReconnected(): void {
    this.routeReconnects.inc();
  }

  socketQueueUnmeasured(): void {
    this.queueUnmeasured.add(1);
  }
}
