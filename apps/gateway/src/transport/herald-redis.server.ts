import { ServerRedis, type MessageHandler, type RedisOptions } from '@nestjs/microservices';
import { CommandDeserializer } from './command.deserializer.js';
import type { DirectEventRoute } from './direct-event-routes.js';

export type HeraldRedisServerOptions = Omit<NonNullable<RedisOptions['options']>, 'deserializer' | 'wildcards'>;

// Nest awaits what handleMessage returns; one settled promise serves every message of the direct road.
const HANDLED: Promise<void> = Promise.resolve();

/**
 * Nest's Redis transport, unchanged on the wire and in behaviour (subscriptions from the @EventPattern and
 * @MessagePattern handlers, presence request/reply, reconnects, status events), with a shorter road for the
 * notify events that every instance receives at full rate:
 * - routes are looked up by channel in a Map: Nest's generic lookup JSON.parses every pattern name to normalise
 *   it, which throws (with a stack trace) for a plain channel name on every message;
 * - events on a channel with a direct route (built from the @EventPattern methods, see `directEventRoutes`) call
 *   that method synchronously instead of going through Nest's per-message promise, context and proxy pipeline.
 * Everything else (requests, channels without a direct route) takes Nest's own path.
 */
export class HeraldRedisServer extends ServerRedis {
  private readonly commands: CommandDeserializer;
  private directRoutes: ReadonlyMap<string, DirectEventRoute> = new Map();

  constructor(options: HeraldRedisServerOptions) {
    const commands = new CommandDeserializer();
    super({ ...options, deserializer: commands });
    this.commands = commands;
  }

  /** Events on these channels skip Nest's per-message pipeline. Channels still need their @EventPattern to be subscribed. */
  routeEventsDirectly(routes: ReadonlyMap<string, DirectEventRoute>): void {
    this.directRoutes = routes;
  }

  /**
   * ioredis 6 reads its socket through `prependListener('data')`, which bypasses `Readable.prototype.on`: the stream
   * never learns it has a data listener, so Node buffers every chunk and hands it over a `nextTick` later, through
   * `emitReadable`/`flow`, with the whole backlog in one tick. A data listener added the ordinary way (it does
   * nothing) restores Node's direct path: each chunk goes to the parser as it is read.
   */
  override async createRedisClient(): ReturnType<ServerRedis['createRedisClient']> {
    const client = await super.createRedisClient();
    // ioredis makes a new stream for every (re)connection; 'connect' comes after its own listener is attached.
    client.on('connect', () => client.stream.on('data', readDirectly));
    return client;
  }

  /** Channel names are plain strings that are their own route; anything else gets Nest's normalisation. */
  override getHandlerByPattern(pattern: string): MessageHandler | null {
    return this.messageHandlers.get(pattern) ?? super.getHandlerByPattern(pattern);
  }

  /**
   * Nest's message listener chains a `.catch()` onto every message's promise: one more promise and microtask per
   * message. The direct road is synchronous and catches its own errors, so it only hands Nest a promise when there
   * is one (a request, a channel on Nest's road, an async handler).
   */
  override getMessageHandler(pub: unknown): ReturnType<ServerRedis['getMessageHandler']> {
    // Nest declares the wildcard signature; without wildcards (not an option here) it listens with (channel, message).
    const viaNest = super.getMessageHandler(pub) as unknown as (channel: string, buffer: string) => Promise<unknown>;
    const listener = (channel: string, buffer: string): Promise<unknown> | undefined => {
      const route = this.directRoutes.get(channel);
      if (route === undefined) return viaNest(channel, buffer);
      return this.dispatch(route, channel, buffer, pub)?.catch((error: unknown) => this.handleError(describe(error)));
    };
    return listener as unknown as ReturnType<ServerRedis['getMessageHandler']>;
  }

  override handleMessage(channel: string, buffer: string, pub: unknown, pattern: string): Promise<void> {
    const route = this.directRoutes.get(channel);
    if (route === undefined) return super.handleMessage(channel, buffer, pub, pattern);
    return this.dispatch(route, channel, buffer, pub) ?? HANDLED;
  }

  /** Runs a direct route; returns a promise only when the work is not done yet (Nest's road, an async handler). */
  private dispatch(route: DirectEventRoute, channel: string, buffer: string, pub: unknown): Promise<void> | undefined {
    try {
      const packet = this.commands.deserialize(this.parseMessage(buffer), { channel });
      // A request (with an id) on an event channel gets whatever answer Nest gives it.
      if ('id' in packet && packet.id !== undefined) return super.handleMessage(channel, buffer, pub, channel);
      const result = route(packet.data);
      if (result instanceof Promise) return result.then(() => undefined);
    } catch (error) {
      // Nest's road logs a failing handler and carries on; so does this one (nothing may escape into ioredis).
      this.handleError(describe(error));
    }
    return undefined;
  }
}

const readDirectly = (): void => undefined;

const describe = (error: unknown): string => (error instanceof Error ? (error.stack ?? error.message) : String(error));
