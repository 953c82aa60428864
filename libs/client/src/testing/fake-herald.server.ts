import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  ClientEvents,
  ClientRequests,
  NOTIFICATIONS_NAMESPACE,
  type ClientToServerEvents,
  type HandshakeAuth,
  type InboxUpdatedPayload,
  type NotificationEnvelope,
  type ServerToClientEvents,
  type SessionEndedPayload,
  type SessionReadyPayload,
} from '@herald/contracts';
import { Server, type Socket } from 'socket.io';

type FakeSocket = Socket<ClientToServerEvents, ServerToClientEvents>;
type RequestEvent = typeof ClientRequests.InboxList | typeof ClientRequests.InboxRead | typeof ClientRequests.InboxReadAll | typeof ClientRequests.SessionRefresh;

/** What a request handler answers: a reply, or undefined for no reply at all (a lost answer). */
export type FakeReplier = (payload: unknown) => unknown;

/**
 * The server side of Herald's client protocol, scripted by a spec, on a real in-process socket.io server: it records
 * every handshake, acknowledgement and request, and sends only what the spec tells it to.
 */
export class FakeHerald {
  readonly handshakes: HandshakeAuth[] = [];
  /** `inbox.ack` cursors, in arrival order, with arrival time (ms). */
  readonly acks: Array<{ cursor: string; at: number }> = [];
  readonly requests: Array<{ event: string; payload: unknown }> = [];
  readonly sockets: FakeSocket[] = [];
  /** Handshakes refused with this `connect_error` reason while set. */
  refuseWith: string | undefined;
  /** Called on each accepted connection: by default sends an empty-feed session.ready. */
  onConnection: (socket: FakeSocket, auth: HandshakeAuth) => void = (socket) => this.ready(socket);
  readonly replies = new Map<RequestEvent, FakeReplier>();

  private constructor(
    private readonly http: HttpServer,
    private readonly io: Server<ClientToServerEvents, ServerToClientEvents>,
  ) {}

  static async start(): Promise<FakeHerald> {
    const http = createServer();
    const io = new Server<ClientToServerEvents, ServerToClientEvents>(http);
    const fake = new FakeHerald(http, io);
    const namespace = io.of(NOTIFICATIONS_NAMESPACE);
    namespace.use((socket, next) => {
      const auth = socket.handshake.auth as HandshakeAuth;
      fake.handshakes.push({ ...auth });
      if (fake.refuseWith === undefined) return next();
      next(Object.assign(new Error('unauthorized'), { data: { reason: fake.refuseWith } }));
    });
    namespace.on('connection', (socket) => {
      fake.sockets.push(socket);
      socket.on(ClientRequests.InboxAck, (ack) => fake.acks.push({ cursor: ack.cursor, at: Date.now() }));
      for (const event of [ClientRequests.InboxList, ClientRequests.InboxRead, ClientRequests.InboxReadAll, ClientRequests.SessionRefresh] as const) {
        (socket as unknown as Socket).on(event, (payload: unknown, reply: unknown) => {
          fake.requests.push({ event, payload });
          const answer = fake.replies.get(event)?.(payload);
          if (answer !== undefined && typeof reply === 'function') (reply as (answer: unknown) => void)(answer);
        });
      }
      fake.onConnection(socket, socket.handshake.auth);
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }

  /** The latest connected socket. */
  get socket(): FakeSocket {
    const socket = this.sockets.at(-1);
    if (socket === undefined) throw new Error('no client connected yet');
    return socket;
  }

  ready(socket: FakeSocket = this.socket, payload: Partial<SessionReadyPayload> = {}): void {
    socket.emit(ClientEvents.SessionReady, {
      cursor: null,
      recovered: true,
      replayed: 0,
      unread: 0,
      readUpTo: null,
      broadcast: { cursor: null, recovered: true, replayed: 0 },
      ...payload,
    });
  }

  notify(envelope: NotificationEnvelope, socket: FakeSocket = this.socket): void {
    socket.emit(ClientEvents.Notification, envelope);
  }

  updated(payload: InboxUpdatedPayload, socket: FakeSocket = this.socket): void {
    socket.emit(ClientEvents.InboxUpdated, payload);
  }

  /** Ends the session the way the gateway does: session.ended, then a server-side disconnect. */
  endSession(payload: SessionEndedPayload, socket: FakeSocket = this.socket): void {
    socket.emit(ClientEvents.SessionEnded, payload);
    socket.disconnect(true);
  }

  /** Drops the transport (a network failure): socket.io-client reconnects by itself. */
  dropTransport(socket: FakeSocket = this.socket): void {
    socket.conn.close();
  }

  async close(): Promise<void> {
    await this.io.close();
  }
}

/** A user-feed envelope with cursor `<epoch>.<seq>`. */
export function envelope(seq: number, options: { id?: string; epoch?: string; feed?: 'broadcast' } = {}): NotificationEnvelope {
  return {
    id: options.id ?? `n${seq}`,
    type: 'test',
    data: { seq },
    createdAt: new Date(0).toISOString(),
    cursor: `${options.epoch ?? 'e1'}.${seq}`,
    ...(options.feed ? { feed: options.feed } : {}),
  };
}
