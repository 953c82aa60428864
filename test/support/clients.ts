import {
  ClientEvents,
  NOTIFICATIONS_NAMESPACE,
  type ConnectErrorData,
  type NotificationEnvelope,
  type ServerToClientEvents,
  type SessionEndedPayload,
} from '@herald/contracts';
import { io, type ManagerOptions, type Socket, type SocketOptions } from 'socket.io-client';
import { waitUntil, withTimeout } from './wait.js';

type ClientSocket = Socket<ServerToClientEvents, Record<string, never>>;
export type ClientOptions = Partial<ManagerOptions & SocketOptions>;

/** A real socket.io-client device that records everything it receives. */
export class TestClient {
  readonly notifications: NotificationEnvelope[] = [];
  readonly sessionEnds: SessionEndedPayload[] = [];
  readonly disconnects: string[] = [];

  constructor(readonly socket: ClientSocket) {
    socket.on(ClientEvents.Notification, (envelope) => this.notifications.push(envelope));
    socket.on(ClientEvents.SessionEnded, (payload) => this.sessionEnds.push(payload));
    socket.on('disconnect', (reason) => this.disconnects.push(reason));
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

/** Connects and resolves once the server accepted the handshake. */
export async function connectClient(baseUrl: string, token: string | undefined, options: ClientOptions = {}): Promise<TestClient> {
  const socket = open(baseUrl, token, options);
  const client = new TestClient(socket);
  await withTimeout(
    new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', (error) => reject(new Error(`connect_error: ${error.message} ${JSON.stringify((error as { data?: unknown }).data)}`)));
    }),
    `client connect to ${baseUrl}`,
  );
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
