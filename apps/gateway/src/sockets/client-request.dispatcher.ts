import { Injectable, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { ClientEvents, isClientRequest, RequestErrorCodes, SessionEndReasons, type ClientRequest, type RequestError } from '@herald/contracts';
import { InjectPinoLogger, PinoLogger } from 'nestjs-pino';
import { MetricsService } from '../ops/metrics.service.js';
import { PacketRateLimiter, type PacketBucket } from './packet-rate-limiter.js';
import type { NotificationSocket } from './socket.types.js';
import { CLIENT_REQUEST_HANDLER, RequestFailure, type ClientRequestHandler, type ClientRequestMetadata } from './client-request.decorator.js';

interface Route {
  metadata: ClientRequestMetadata;
  handler: ClientRequestHandler;
}

type Reply = (reply: unknown) => void;

/**
 * Everything a client sends goes through here: counted, validated, handed to its @OnClientRequest handler, answered.
 * A bad request gets an error reply and nothing else: never a disconnect, never an exception out of a socket listener.
 */
@Injectable()
export class ClientRequestDispatcher implements OnModuleInit {
  private readonly routes = new Map<ClientRequest, Route>();
  /** Per socket, from its first packet on: an idle socket holds none. */
  private readonly buckets = new WeakMap<NotificationSocket, PacketBucket>();

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly metrics: MetricsService,
    @InjectPinoLogger(ClientRequestDispatcher.name) private readonly logger: PinoLogger,
    private readonly limiter: PacketRateLimiter,
  ) {}

  onModuleInit(): void {
    for (const wrapper of this.discovery.getProviders()) {
      const instance: unknown = wrapper.instance;
      if (typeof instance !== 'object' || instance === null) continue;
      const prototype = Object.getPrototypeOf(instance) as object;
      for (const name of this.scanner.getAllMethodNames(prototype)) {
        const method = (instance as Record<string, unknown>)[name];
        if (typeof method !== 'function') continue;
        const metadata = this.reflector.get<ClientRequestMetadata | undefined>(CLIENT_REQUEST_HANDLER, method);
        if (metadata === undefined) continue;
        if (this.routes.has(metadata.event)) throw new Error(`two handlers for client request ${metadata.event}`);
        this.routes.set(metadata.event, { metadata, handler: (method as ClientRequestHandler).bind(instance) });
      }
    }
  }

  /** The events that have a handler (a startup check and the specs use it). */
  get events(): ClientRequest[] {
    return [...this.routes.keys()];
  }

  /** socket.io's `onAny` arguments: the event, its payload, and the acknowledgement callback if the client wants a reply. */
  dispatch(socket: NotificationSocket, args: unknown[]): void {
    const event = args[0];
    const last = args.length > 1 ? args[args.length - 1] : undefined;
    const reply = typeof last === 'function' ? (last as Reply) : undefined;
    const payload = reply === undefined || args.length > 2 ? args[1] : undefined;
    const route = isClientRequest(event) ? this.routes.get(event) : undefined;
    // Every packet counts against the rate, whatever it is: unknown events cost the instance as much as requests.
    const verdict = this.limiter.take(this.bucketOf(socket));
    if (verdict === 'exceeded') {
      this.endGreedy(socket);
      return;
    }
    if (verdict === 'limit') {
      if (route === undefined) this.metrics.clientMessage();
      else this.metrics.clientRequestRefused(route.metadata.event, RequestErrorCodes.RateLimited);
      reply?.(failure(RequestErrorCodes.RateLimited, 'too many requests: slow down'));
      return;
    }
    if (route === undefined) {
      this.metrics.clientMessage();
      reply?.(failure(RequestErrorCodes.InvalidRequest, 'unknown request'));
      return;
    }
    const { event: name, schema } = route.metadata;
    this.metrics.clientMessage(name);
    // Requests whose fields are all optional may be sent without a payload.
    const parsed = schema.safeParse(payload ?? {});
    if (!parsed.success) {
      this.refuse(
        socket,
        name,
        reply,
        RequestErrorCodes.InvalidRequest,
        parsed.error.issues.map((issue) => `${issue.path.join('.') || 'payload'}: ${issue.message}`).join('; '),
      );
      return;
    }
    let result: unknown;
    try {
      result = route.handler(socket, parsed.data);
    } catch (error) {
      this.failed(socket, name, reply, error);
      return;
    }
    Promise.resolve(result).then(
      (value) => reply?.(value),
      (error: unknown) => this.failed(socket, name, reply, error),
    );
  }

  private bucketOf(socket: NotificationSocket): PacketBucket {
    let bucket = this.buckets.get(socket);
    if (bucket === undefined) this.buckets.set(socket, (bucket = this.limiter.bucket()));
    return bucket;
  }

  /**
   * It kept sending a whole burst more while refused: the session ends (a server disconnect, which socket.io-client
   * does not retry by itself: an app in a request loop should not come straight back).
   */
  private endGreedy(socket: NotificationSocket): void {
    if (!socket.connected) return;
    this.metrics.sessionEnded(SessionEndReasons.PacketRateExceeded);
    this.logger.warn(
      { userId: socket.data.userId, socketId: socket.id, perSecond: this.limiter.perSecond, burst: this.limiter.burst },
      'packet rate exceeded: session ended',
    );
    socket.emit(ClientEvents.SessionEnded, { reason: SessionEndReasons.PacketRateExceeded, reconnect: false });
    socket.disconnect(true);
  }

  private failed(socket: NotificationSocket, event: ClientRequest, reply: Reply | undefined, error: unknown): void {
    if (error instanceof RequestFailure) {
      this.refuse(socket, event, reply, error.code, error.message);
      return;
    }
    // The store could not be reached, most likely: the client may retry.
    this.logger.warn({ userId: socket.data.userId, socketId: socket.id, request: event, error: String(error) }, 'client request failed');
    this.refuse(socket, event, reply, RequestErrorCodes.Unavailable, 'the inbox is unavailable, retry');
  }

  private refuse(socket: NotificationSocket, event: ClientRequest, reply: Reply | undefined, code: RequestError['error']['code'], message: string): void {
    this.metrics.clientRequestRefused(event, code);
    this.logger.info({ userId: socket.data.userId, socketId: socket.id, request: event, code, message }, 'client request refused');
    reply?.(failure(code, message));
  }
}

const failure = (code: RequestError['error']['code'], message: string): RequestError => ({ error: { code, message } });
