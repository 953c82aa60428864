import {
  ClientEvents,
  NOTIFICATIONS_NAMESPACE,
  type ConnectErrorData,
  type NotificationEnvelope,
  type ServerToClientEvents,
  type SessionEndedPayload,
  type SessionReadyPayload,
} from '@herald/contracts';
import { Agent } from 'node:http';
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { waitUntil, withTimeout } from './wait.js';

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
    return `${value.message} ${JSON.stringify({ description: String(description ?? ''), context: describeContext(context) })}`;
  }
  return typeof value === 'object' && value !== null && 'description' in value ? describe(value.description) : String(value);
}

/** For polling errors engine.io-client puts the XMLHttpRequest in `context`: keep its status and body. */
function describeContext(context: unknown): unknown {
  if (typeof context === 'object' && context !== null && 'status' in context) {
    const { status, responseText } = context as { status: unknown; responseText?: unknown };
    return { status, responseText };
  }
  return context === undefined ? undefined : String(context);
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
