import type { INestApplicationContext } from '@nestjs/common';
import { Logger } from '@nestjs/common';
import { IoAdapter } from '@nestjs/platform-socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import { createRedisClient, onConnectionChange, whenReady } from './redis-connection.js';
import type { MessageMappingProperties } from '@nestjs/websockets';
import type { Observable } from 'rxjs';
import { Server, type ServerOptions, type Socket } from 'socket.io';

export interface RedisIoAdapterOptions {
  url: string;
  /** Prefix of the adapter's Redis channels; instances that should see each other share it. */
  key?: string;
  /** How long cluster-wide requests (fetchSockets, serverSideEmit with ack) wait for other instances. */
  requestsTimeoutMs?: number;
  /** Extra Socket.IO server options (CORS, limits) merged over Nest's. */
  serverOptions?: Partial<ServerOptions>;
  /**
   * Whether to bind Nest's disconnect callback, which feeds `OnGatewayDisconnect.handleDisconnect` (default true). Nest
   * builds a new closure for it per socket; gateways that listen for `disconnect` themselves turn it off and save that
   * closure for every connection.
   */
  gatewayDisconnectHook?: boolean;
}

export type RedisIoClientRole = 'adapter_pub' | 'adapter_sub';
export type ConnectionListener = (role: RedisIoClientRole, connected: boolean) => void;

/**
 * Socket.IO adapter backed by @socket.io/redis-adapter and ioredis, the client Nest's Redis transport already loads:
 * a second Redis library (node-redis) would add about 6 MB to every gateway's heap, which each full GC marks.
 * Connect it (`connectToRedis`) before `app.listen()`: a server must not accept sockets it cannot reach the cluster for.
 * Both clients reconnect forever with capped backoff and report their state; `dispose` closes them on shutdown.
 */
export class RedisIoAdapter extends IoAdapter {
  private readonly log = new Logger(RedisIoAdapter.name);
  private readonly clients = new Map<RedisIoClientRole, Redis>();
  private readonly listeners: ConnectionListener[] = [];
  private adapterConstructor?: ReturnType<typeof createAdapter>;
  /** Set by dispose(): connections closed from then on are the shutdown's own doing. */
  private disposing = false;

  constructor(
    app: INestApplicationContext,
    private readonly options: RedisIoAdapterOptions,
  ) {
    super(app);
  }

  async connectToRedis(): Promise<void> {
    const pub = createRedisClient(this.options.url);
    const sub = createRedisClient(this.options.url);
    this.clients.set('adapter_pub', pub);
    this.clients.set('adapter_sub', sub);
    for (const [role, client] of this.clients) this.watch(role, client);
    await Promise.all([pub, sub].map(whenReady));
    this.adapterConstructor = createAdapter(pub, sub, {
      key: this.options.key ?? 'herald#io',
      requestsTimeout: this.options.requestsTimeoutMs ?? 3000,
    });
  }

  onConnectionChange(listener: ConnectionListener): void {
    this.listeners.push(listener);
  }

  isConnected(role: RedisIoClientRole): boolean {
    return this.clients.get(role)?.status === 'ready';
  }

  override createIOServer(port: number, options?: ServerOptions): Server {
    if (!this.adapterConstructor) {
      throw new Error('RedisIoAdapter: call connectToRedis() before the application starts listening');
    }
    const server = super.createIOServer(port, { ...options, ...this.options.serverOptions } as ServerOptions);
    server.adapter(this.adapterConstructor);
    return server;
  }

  /**
   * Nest builds an RxJS `disconnect$` stream (and a WeakMap entry) for every socket before looking at the handlers;
   * a gateway without @SubscribeMessage handlers would keep those alive for each idle connection for nothing.
   */
  override bindMessageHandlers(socket: Socket, handlers: MessageMappingProperties[], transform: (data: unknown) => Observable<unknown>): void {
    if (handlers.length > 0) super.bindMessageHandlers(socket, handlers, transform);
  }

  /**
   * Nest wraps the callback in one more closure and a `once` wrapper per socket. socket.io emits `disconnect` once
   * per socket (and clients cannot send an event by that reserved name), so a plain listener is enough.
   */
  override bindClientDisconnect(client: Socket, callback: (reason: string) => void): void {
    if (this.options.gatewayDisconnectHook !== false) client.on('disconnect', callback);
  }

  /**
   * socket.io's close() also closes the HTTP server it shares with Nest and waits for every connection on it to end,
   * which a peer that never answers a WebSocket close frame holds for 30 s. Nest's HTTP adapter closes that server
   * next (and may bound the wait, as the gateway's does), so for the shared server this only closes the Engine.IO
   * sessions still open (clients still in their handshake, say), as socket.io's close() would. The Redis adapter's own
   * subscriptions end with its clients in dispose().
   */
  override async close(server: Server): Promise<void> {
    if (server instanceof Server && server.httpServer === this.httpServer) {
      server.engine.close();
      return;
    }
    await super.close(server);
  }

  override async dispose(): Promise<void> {
    this.disposing = true;
    await super.dispose();
    await Promise.all(
      [...this.clients.values()].map(async (client) => {
        if (client.status === 'end') return;
        // quit() lets queued commands finish; a client that is not connected has nothing to flush.
        if (client.status === 'ready') await client.quit();
        else client.disconnect();
      }),
    );
  }

  private watch(role: RedisIoClientRole, client: Redis): void {
    let connected = false;
    client.on('error', (error: Error) => {
      if (connected) this.log.error(`redis ${role} error: ${error.message}`);
    });
    onConnectionChange(client, (next) => {
      connected = next;
      if (next) this.log.log(`redis ${role} connected`);
      else if (!this.disposing) this.log.warn(`redis ${role} connection lost, reconnecting`);
      for (const listener of this.listeners) listener(role, next);
    });
  }
}
