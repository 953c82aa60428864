import {
  FEED_START,
  ClientEvents,
  NOTIFICATIONS_NAMESPACE,
  SessionEndReasons,
  UNAVAILABLE_MESSAGE,
  type ConnectErrorData,
  type HandshakeAuth,
  type NotificationEnvelope,
  type Reply,
  type ServerToClientEvents,
  type SessionEndedPayload,
  type SessionReadyPayload,
} from '@herald/contracts';
import { Agent } from 'node:http';
import { inspect } from 'node:util';
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { signToken } from './tokens.js';
import { present, waitUntil, withTimeout } from './wait.js';

type ClientSocket = Socket<ServerToClientEvents, Record<string, never>>;
export type ClientOptions = Partial<ManagerOptions & SocketOptions>;

/** A real socket.io-client device that records everything it receives. */
export class TestClient {
  readonly notifications: NotificationEnvelope[] = [];
  readonly sessionEnds: SessionEndedPayload[] = [];
  readonly sessionReady: SessionReadyPayload[] = [];
  readonly disconnects: string[] = [];
  /** Successful automatic reconnections (only with `reconnection: true`). */
  reconnects = 0;
  /** Low-level transport errors (e.g. a 400 "Session ID unknown" on a polling request). */
  readonly transportErrors: string[] = [];

  constructor(readonly socket: ClientSocket) {
    socket.on(ClientEvents.Notification, (envelope) => this.notifications.push(envelope));
    socket.on(ClientEvents.SessionEnded, (payload) => this.sessionEnds.push(payload));
    socket.on(ClientEvents.SessionReady, (payload) => this.sessionReady.push(payload));
    // Reasons only (socket.io's closed set), so tests can compare them; details of transport failures go to transportErrors.
    socket.on('disconnect', (reason) => this.disconnects.push(reason));
    socket.io.on('reconnect', () => this.reconnects++);
    socket.io.on('error', (error) => this.transportErrors.push(describe(error)));
  }

  /** The Engine.IO transport in use: `polling` or `websocket`. */
  get transport(): string {
    return this.socket.io.engine.transport.name;
  }

  /** Notifications of one `type`, the usual way a test tells its messages apart. */
  ofType(type: string): NotificationEnvelope[] {
    return this.notifications.filter((envelope) => envelope.type === type);
  }

  async waitForType(type: string, count = 1, timeoutMs = 10_000): Promise<NotificationEnvelope[]> {
    await waitUntil(() => this.ofType(type).length >= count, `${count} notification(s) of type ${type}`, timeoutMs);
    return this.ofType(type);
  }

  /** Sends an event the server has no handler for (clients send none by contract): for abuse and metrics tests. */
  sendUnexpected(event: string, payload: unknown): void {
    (this.socket as unknown as Socket).emit(event, payload);
  }

  /** Writes an engine.io message that is not a socket.io packet: the server cannot decode it. */
  sendUndecodablePacket(): void {
    this.socket.io.engine.write('not a socket.io packet');
  }

  /** A client request answered through an acknowledgement (ClientRequests in contracts): resolves with the reply. */
  async request<T>(event: string, payload: unknown, timeoutMs = 10_000): Promise<Reply<T>> {
    return (await (this.socket as unknown as Socket).timeout(timeoutMs).emitWithAck(event, payload)) as Reply<T>;
  }

  close(): void {
    this.socket.disconnect();
  }
}

/**
 * A raw engine.io HTTP request (`/socket.io/?<query>`), for handshakes a real client would never make:
 * an unknown transport, an unknown session id.
 */
export async function engineRequest(baseUrl: string, query: Record<string, string>): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${baseUrl}/socket.io/?${new URLSearchParams(query).toString()}`);
  const text = await response.text();
  try {
    return { status: response.status, body: JSON.parse(text) as unknown };
  } catch {
    return { status: response.status, body: text };
  }
}

function open(baseUrl: string, token: string | undefined, options: ClientOptions): ClientSocket {
  return io(`${baseUrl}${NOTIFICATIONS_NAMESPACE}`, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    ...(token === undefined ? {} : { auth: { token } }),
    ...options,
  });
}

/**
 * Connects and resolves once the session is ready (`session.ready`): from then on the device receives every
 * notification stored for its user, whatever instance stores it.
 */
export async function connectClient(baseUrl: string, token: string | undefined, options: ClientOptions = {}): Promise<TestClient> {
  const socket = open(baseUrl, token, options);
  const client = new TestClient(socket);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once(ClientEvents.SessionReady, () => resolve());
      socket.once('connect_error', (error) => reject(new Error(`connect_error: ${error.message} ${JSON.stringify((error as { data?: unknown }).data)}`)));
    }),
    `client connect to ${baseUrl}`,
  );
  return client;
}

/**
 * A socket.io-client whose Engine.IO connection is open (over polling: a long-poll pending) but whose namespace
 * handshake waits for its token, which never comes (the `auth` callback is not answered): how the gateway sees a client
 * fetching a fresh token. Resolves once the Engine.IO connection is open.
 */
export async function openAwaitingToken(baseUrl: string, options: ClientOptions = {}): Promise<TestClient> {
  const socket = open(baseUrl, undefined, { auth: () => undefined, ...options });
  const client = new TestClient(socket);
  await withTimeout(new Promise<void>((resolve) => socket.io.once('open', () => resolve())), `Engine.IO connection to ${baseUrl}`);
  return client;
}

/** Connects expecting a refusal; resolves with the connect_error's message and data. */
export async function expectConnectError(
  baseUrl: string,
  token: string | undefined,
  options: ClientOptions = {},
): Promise<{ message: string; data: ConnectErrorData | undefined }> {
  const socket = open(baseUrl, token, options);
  try {
    return await withTimeout(
      new Promise((resolve, reject) => {
        socket.once('connect', () => reject(new Error('the handshake was accepted')));
        socket.once('connect_error', (error) => resolve({ message: error.message, data: (error as { data?: ConnectErrorData }).data }));
      }),
      `connect_error from ${baseUrl}`,
    );
  } finally {
    socket.disconnect();
  }
}

function describe(value: unknown): string {
  if (value instanceof Error) {
    const { context, description } = value as Error & { context?: unknown; description?: unknown };
    return `${value.message} ${JSON.stringify({ description: typeof description === 'string' ? description : inspect(description), context: describeContext(context) })}`;
  }
  return typeof value === 'object' && value !== null && 'description' in value ? describe(value.description) : String(value);
}

/** For polling errors engine.io-client puts the XMLHttpRequest in `context`: keep its status and body. */
function describeContext(context: unknown): unknown {
  if (typeof context === 'object' && context !== null && 'status' in context) {
    const { status, responseText } = context as { status: unknown; responseText?: unknown };
    return { status, responseText };
  }
  return context === undefined ? undefined : typeof context === 'string' ? context : inspect(context, { depth: 0 });
}

/**
 * Makes the client connect from another loopback address (127.0.0.0/8), over both transports. nginx hashes
 * on the client address, so this is how tests spread clients over the instances behind it.
 */
export function fromAddress(localAddress: string): ClientOptions {
  // engine.io-client types `agent` as string | boolean but hands it to Node's http.request (polling) and ws (WebSocket).
  const agent = new Agent({ localAddress }) as unknown as string;
  return { agent };
}

/** What a ResumingDevice saw, in order: notifications and session.ready, each with the connection it came on (1, 2...). */
export type DeviceEvent =
  { kind: 'notification'; connection: number; envelope: NotificationEnvelope } | { kind: 'ready'; connection: number; payload: SessionReadyPayload };

export interface ResumingDeviceOptions {
  /** Name in ledger tables and failure messages (default: `<user>/<n>`). */
  name?: string;
  /** The cursor to resume from on the first connect (later connects send the latest one processed). */
  since?: string;
  broadcastSince?: string;
  /**
   * One JWT for every handshake (e.g. an expired one, to test refusals). Default: as an app does, a fresh token for
   * each (re)connect, and a reconnect with a fresh one when the server ends the session because the token expired.
   */
  token?: string;
  /** Lifetime of the fresh tokens, in seconds (default 3600). */
  tokenTtlSeconds?: number;
  /** Wait for the first session.ready, not just the connect (default true). */
  waitForReady?: boolean;
  /** socket.io-client options on top of the device defaults (WebSocket only, reconnection on, short delays). */
  socket?: ClientOptions;
}

/** How long a refused (re)connect waits before trying again, as an app would on `unavailable` (an instance draining). */
const REFUSED_RETRY_MS = 200;
let deviceCount = 0;

/**
 * A device as a real app builds one on the durable contract: a socket.io-client with reconnection on, whose `auth`
 * is a function, so every (re)connect sends the cursor of the last notification it processed (`since`) and of the
 * last broadcast (`broadcastSince`). It records every notification and session.ready with the connection it came on.
 *
 * Cursor rule: a notification's cursor becomes the device's cursor for its feed. A session.ready cursor is adopted
 * only when the device has none of its own yet (it connected with nothing to resume from) or when the server says it
 * could not recover (`recovered: false`): then resuming from the feed's head is all a client can do.
 */
export class ResumingDevice {
  readonly notifications: NotificationEnvelope[] = [];
  readonly readies: SessionReadyPayload[] = [];
  readonly events: DeviceEvent[] = [];
  readonly connectErrors: string[] = [];
  readonly disconnects: string[] = [];
  readonly sessionEnds: SessionEndedPayload[] = [];
  /** When each session.ready came and each disconnect happened (Date.now()): the chaos suite measures time back from them. */
  readonly readyTimes: number[] = [];
  readonly disconnectTimes: number[] = [];
  /** Cursor of the last user-feed notification processed (what the next connect sends as `since`). */
  cursor: string | undefined;
  /** Cursor of the last broadcast processed (`broadcastSince`). */
  broadcastCursor: string | undefined;
  /** Connections made so far (1 after the first). */
  connections = 0;
  /** The `auth` objects sent, one per handshake attempt: what the server was asked. */
  readonly handshakes: HandshakeAuth[] = [];
  private closed = false;
  private retryTimer: NodeJS.Timeout | undefined;

  private constructor(
    readonly name: string,
    readonly userId: string,
    readonly socket: Socket<ServerToClientEvents, Record<string, never>>,
    /** Whether it signs a fresh token per handshake (and so reconnects after token_expired). */
    private readonly renewsTokens: boolean,
  ) {}

  static async connect(baseUrl: string, userId: string, options: ResumingDeviceOptions = {}): Promise<ResumingDevice> {
    const fixedToken = options.token;
    const token = async (): Promise<string> => fixedToken ?? signToken({ sub: userId, expiresIn: options.tokenTtlSeconds });
    // The auth function runs on every (re)connect, once the device exists.
    const holder: { device?: ResumingDevice } = {};
    const socket: ClientSocket = io(`${baseUrl}${NOTIFICATIONS_NAMESPACE}`, {
      transports: ['websocket'],
      forceNew: true,
      reconnection: true,
      reconnectionDelay: 100,
      reconnectionDelayMax: 1000,
      randomizationFactor: 0.5,
      timeout: 10_000,
      autoConnect: false,
      // Called on every (re)connect: the latest cursors, never the ones of the first connect.
      auth: (callback: (auth: HandshakeAuth) => void) => {
        void token().then((jwt) => {
          const auth: HandshakeAuth = { token: jwt };
          const device = holder.device;
          if (device?.cursor !== undefined) auth.since = device.cursor;
          if (device?.broadcastCursor !== undefined) auth.broadcastSince = device.broadcastCursor;
          device?.handshakes.push(auth);
          callback(auth);
        });
      },
      ...options.socket,
    });
    const device = new ResumingDevice(options.name ?? `${userId}/${++deviceCount}`, userId, socket, fixedToken === undefined);
    device.cursor = options.since;
    device.broadcastCursor = options.broadcastSince;
    holder.device = device;
    device.listen();
    socket.connect();
    try {
      await withTimeout(
        new Promise<void>((resolve, reject) => {
          if (options.waitForReady === false) socket.once('connect', () => resolve());
          else socket.once(ClientEvents.SessionReady, () => resolve());
          // Transport failures are retried by socket.io-client, `unavailable` by the device: only a final refusal fails.
          socket.on('connect_error', (error) => {
            if (!socket.active && error.message !== UNAVAILABLE_MESSAGE)
              reject(new Error(`connect_error: ${error.message} ${JSON.stringify((error as { data?: unknown }).data)}`));
          });
        }),
        `device ${device.name} to connect to ${baseUrl}${options.waitForReady === false ? '' : ' and get session.ready'}`,
        20_000,
      );
    } catch (error) {
      device.close();
      throw error;
    }
    return device;
  }

  private listen(): void {
    const socket = this.socket;
    socket.on('connect', () => this.connections++);
    socket.on(ClientEvents.Notification, (envelope) => {
      this.notifications.push(envelope);
      this.events.push({ kind: 'notification', connection: this.connections, envelope });
      if (envelope.feed === 'broadcast') this.broadcastCursor = envelope.cursor;
      else this.cursor = envelope.cursor;
    });
    socket.on(ClientEvents.SessionReady, (payload) => {
      this.readies.push(payload);
      this.readyTimes.push(Date.now());
      this.events.push({ kind: 'ready', connection: this.connections, payload });
      if (payload.cursor === null) this.cursor ??= FEED_START;
      else if (this.cursor === undefined || !payload.recovered) this.cursor = payload.cursor;
      const broadcast = payload.broadcast;
      if (broadcast.cursor === null) this.broadcastCursor ??= FEED_START;
      else if (this.broadcastCursor === undefined || !broadcast.recovered) this.broadcastCursor = broadcast.cursor;
    });
    socket.on(ClientEvents.SessionEnded, (payload) => this.sessionEnds.push(payload));
    socket.on('disconnect', (reason) => {
      this.disconnects.push(reason);
      this.disconnectTimes.push(Date.now());
      // socket.io-client does not reconnect after the server ended the session; an app with a fresh token does.
      if (reason === 'io server disconnect' && this.renewsTokens && !this.closed && this.sessionEnds.at(-1)?.reason === SessionEndReasons.TokenExpired) {
        socket.connect();
      }
    });
    socket.on('connect_error', (error) => {
      this.connectErrors.push(error.message);
      // A refusal by the server (not a transport failure) is final for socket.io-client: it does not retry by itself.
      // An app retries an `unavailable` (the instance is draining) later; behind nginx it lands elsewhere.
      if (!socket.active && !this.closed && error.message === UNAVAILABLE_MESSAGE) {
        this.retryTimer = setTimeout(() => {
          if (!this.closed && !socket.connected) socket.connect();
        }, REFUSED_RETRY_MS);
      }
    });
  }

  get connected(): boolean {
    return this.socket.connected;
  }

  /** Notifications of the user's own feed (not broadcasts). */
  userNotifications(): NotificationEnvelope[] {
    return this.notifications.filter((envelope) => envelope.feed !== 'broadcast');
  }

  broadcasts(): NotificationEnvelope[] {
    return this.notifications.filter((envelope) => envelope.feed === 'broadcast');
  }

  ofType(type: string): NotificationEnvelope[] {
    return this.notifications.filter((envelope) => envelope.type === type);
  }

  /** The session.ready of the latest connection (throws before the first one came). */
  get lastReady(): SessionReadyPayload {
    return present(this.readies.at(-1), `${this.name}: a session.ready`);
  }

  async waitForType(type: string, count = 1, timeoutMs = 10_000): Promise<NotificationEnvelope[]> {
    await waitUntil(() => this.ofType(type).length >= count, `${this.name}: ${count} notification(s) of type ${type}`, timeoutMs);
    return this.ofType(type);
  }

  /** Waits until `count` session.ready events have come in total (one per successful connection). */
  async waitForReady(count: number, timeoutMs = 20_000): Promise<SessionReadyPayload> {
    await waitUntil(() => this.readies.length >= count, `${this.name}: session.ready #${count}`, timeoutMs);
    return this.readies[count - 1];
  }

  /** Waits until every one of these notification ids was received at least once. */
  async waitForIds(ids: Iterable<string>, timeoutMs = 20_000): Promise<void> {
    const wanted = new Set(ids);
    await waitUntil(
      () => {
        for (const envelope of this.notifications) wanted.delete(envelope.id);
        return wanted.size === 0;
      },
      `${this.name}: ${wanted.size} notification(s) still missing`,
      timeoutMs,
    );
  }

  /** The events of one connection, in order. */
  eventsOf(connection: number): DeviceEvent[] {
    return this.events.filter((event) => event.connection === connection);
  }

  /**
   * What the contract promises of every connection, as a list of violations (empty when it held): session.ready
   * once, after exactly `replayed` notifications (replays come before it, live ones after), no notification twice.
   */
  connectionViolations(): string[] {
    const problems: string[] = [];
    for (let connection = 1; connection <= this.connections; connection++) {
      const events = this.eventsOf(connection);
      const readyAt = events.findIndex((event) => event.kind === 'ready');
      const readies = events.filter((event) => event.kind === 'ready').length;
      if (readies > 1) problems.push(`${this.name} connection ${connection}: ${readies} session.ready events`);
      if (readyAt >= 0) {
        const ready = (events[readyAt] as { payload: SessionReadyPayload }).payload;
        const replayed = ready.replayed + ready.broadcast.replayed;
        if (readyAt !== replayed)
          problems.push(`${this.name} connection ${connection}: ${readyAt} notification(s) before session.ready, which says ${replayed} were replayed`);
      } else if (events.length > 0 && connection < this.connections) {
        problems.push(`${this.name} connection ${connection}: ${events.length} notification(s) and no session.ready`);
      }
      const seen = new Set<string>();
      for (const event of events) {
        if (event.kind !== 'notification') continue;
        if (seen.has(event.envelope.id)) problems.push(`${this.name} connection ${connection}: ${event.envelope.id} twice`);
        seen.add(event.envelope.id);
      }
    }
    return problems;
  }

  /** Cuts the transport under the socket (as a network drop does): socket.io-client reconnects by itself, with `since`. */
  dropTransport(): void {
    this.socket.io.engine.close();
  }

  /** Goes offline on purpose (no automatic reconnect) until comeBack(). */
  goOffline(): void {
    this.socket.disconnect();
  }

  /** Connects again after goOffline(), sending the latest cursors, and waits for the new session.ready. */
  async comeBack(timeoutMs = 20_000): Promise<SessionReadyPayload> {
    const next = this.readies.length + 1;
    this.socket.connect();
    return this.waitForReady(next, timeoutMs);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.socket.disconnect();
  }
}
