import assert from 'node:assert/strict';
import { PassThrough as ByteStream } from 'node:stream';
import { describe, it } from 'node:test';
import {
  Controller,
  UseFilters,
  UseGuards,
  UseInterceptors,
  UsePipes,
  type CallHandler,
  type CanActivate,
  type ExceptionFilter,
  type NestInterceptor,
  type PipeTransform,
} from '@nestjs/common';
import { Ctx, EventPattern, MessagePattern, Payload, type MessageHandler } from '@nestjs/microservices';
import { CommandRejectReasons, NOTIFY_PATTERNS, Patterns, encodeCommand } from '@herald/contracts';
import type { DeliveryService } from '../delivery/delivery.service.js';
import type { MetricsService } from '../metrics/metrics.service.js';
import type { NotifyGateway } from '../notify/notify.gateway.js';
import { CommandController } from './command.controller.js';
import { MalformedCommand } from './command.deserializer.js';
import { directEventRoutes } from './direct-event-routes.js';
import { HeraldRedisServer } from './herald-redis.server.js';

class AllowAll implements CanActivate {
  canActivate(): boolean {
    return true;
  }
}
class Identity implements PipeTransform {
  transform(value: unknown): unknown {
    return value;
  }
}
class PassThrough implements NestInterceptor {
  intercept(_context: unknown, next: CallHandler) {
    return next.handle();
  }
}
class Swallow implements ExceptionFilter {
  catch(): void {}
}

@Controller()
class PlainController {
  readonly seen: unknown[] = [];
  @EventPattern('plain.event')
  plain(@Payload() data: unknown): void {
    this.seen.push(data);
  }
  @EventPattern(['first.alias', 'second.alias'])
  aliased(@Payload() data: unknown): void {
    this.seen.push(data);
  }
  @MessagePattern('a.request')
  request(@Payload() data: unknown): unknown {
    return data;
  }
  @EventPattern('with.guard')
  @UseGuards(AllowAll)
  guarded(@Payload() data: unknown): void {
    this.seen.push(data);
  }
  @EventPattern('with.interceptor')
  @UseInterceptors(PassThrough)
  intercepted(@Payload() data: unknown): void {
    this.seen.push(data);
  }
  @EventPattern('with.filter')
  @UseFilters(Swallow)
  filtered(@Payload() data: unknown): void {
    this.seen.push(data);
  }
  @EventPattern('with.param.pipe')
  piped(@Payload(Identity) data: unknown): void {
    this.seen.push(data);
  }
  @EventPattern('with.property')
  property(@Payload('userId') userId: unknown): void {
    this.seen.push(userId);
  }
  @EventPattern('with.context')
  withContext(@Payload() data: unknown, @Ctx() context: unknown): void {
    this.seen.push([data, context]);
  }
  helper(): string {
    return 'not a handler';
  }
}

@Controller()
@UsePipes(Identity)
class PipedController {
  @EventPattern('class.pipe')
  handle(@Payload() data: unknown): void {
    void data;
  }
}

describe('directEventRoutes', () => {
  it('routes plain @EventPattern methods, bound to their controller, under every pattern they declare', () => {
    const controller = new PlainController();
    const { routes } = directEventRoutes(controller);
    assert.deepEqual([...routes.keys()].sort(), ['first.alias', 'plain.event', 'second.alias']);
    routes.get('plain.event')?.({ n: 1 });
    routes.get('second.alias')?.({ n: 2 });
    assert.deepEqual(controller.seen, [{ n: 1 }, { n: 2 }]);
  });

  it('leaves on Nest every method Nest would do something for: enhancers, param pipes, property payloads, more parameters', () => {
    const { keptOnNest } = directEventRoutes(new PlainController());
    assert.deepEqual(keptOnNest.map((line) => line.split(':')[0]).sort(), [
      'PlainController.filtered',
      'PlainController.guarded',
      'PlainController.intercepted',
      'PlainController.piped',
      'PlainController.property',
      'PlainController.withContext',
    ]);
    assert.ok(keptOnNest.includes('PlainController.withContext: needs exactly one parameter, @Payload()'), keptOnNest.join('\n'));
    assert.ok(keptOnNest.includes('PlainController.piped: its parameter is not a plain @Payload()'), keptOnNest.join('\n'));
    const classLevel = directEventRoutes(new PipedController());
    assert.equal(classLevel.routes.size, 0);
    assert.match(classLevel.keptOnNest[0] ?? '', /PipedController\.handle: has __pipes__/);
  });
});

/** A server with Nest's route normalisation and error logging observable. */
class ProbedServer extends HeraldRedisServer {
  routeLookups = 0;
  readonly errors: string[] = [];
  protected override getRouteFromPattern(pattern: string): string {
    this.routeLookups++;
    return super.getRouteFromPattern(pattern);
  }
  protected override handleError(error: string): void {
    this.errors.push(error);
  }
}

function setup() {
  const server = new ProbedServer({ host: '127.0.0.1', port: 1 });
  const direct: unknown[] = [];
  const viaNest: Array<[string, unknown]> = [];
  const nestHandler = (pattern: string, reply?: unknown): MessageHandler =>
    Object.assign(async (data: unknown) => {
      viaNest.push([pattern, data]);
      return reply;
    }, {}) as MessageHandler;
  server.addHandler(Patterns.NotifyUser, nestHandler(Patterns.NotifyUser), true);
  server.addHandler(Patterns.NotifyBroadcast, nestHandler(Patterns.NotifyBroadcast), true);
  server.addHandler(Patterns.PresenceQuery, nestHandler(Patterns.PresenceQuery, { online: true }), false);
  server.routeEventsDirectly(new Map([[Patterns.NotifyUser, (data: unknown) => direct.push(data)]]));
  const published: Array<[string, string]> = [];
  const pub = { publish: async (channel: string, message: string) => published.push([channel, message]) };
  const handle = (channel: string, message: string) => server.handleMessage(channel, message, pub, channel);
  return { server, direct, viaNest, published, handle };
}

describe('HeraldRedisServer', () => {
  it('calls the direct route synchronously with the command, without Nest’s pipeline or route normalisation', async () => {
    const { server, direct, viaNest, handle } = setup();
    const done = handle(Patterns.NotifyUser, encodeCommand(Patterns.NotifyUser, { userId: 'u1', data: 1 }));
    assert.deepEqual(direct, [{ userId: 'u1', data: 1 }], 'handled before handleMessage returned');
    await done;
    assert.deepEqual(viaNest, []);
    assert.equal(server.routeLookups, 0);
  });

  it('hands malformed messages to the direct route as MalformedCommand, like the deserializer does on Nest’s road', async () => {
    const { direct, handle } = setup();
    await handle(Patterns.NotifyUser, 'not json');
    await handle(Patterns.NotifyUser, '[1]');
    assert.deepEqual(
      direct.map((data) => (data instanceof MalformedCommand ? data.reason : data)),
      [CommandRejectReasons.NotJson, CommandRejectReasons.NotAnEnvelope],
    );
  });

  it('leaves channels without a direct route on Nest’s road, looked up without JSON.parse', async () => {
    const { server, direct, viaNest, handle } = setup();
    await handle(Patterns.NotifyBroadcast, encodeCommand(Patterns.NotifyBroadcast, { data: 2 }));
    assert.deepEqual(viaNest, [[Patterns.NotifyBroadcast, { data: 2 }]]);
    assert.deepEqual(direct, []);
    assert.equal(server.routeLookups, 0, 'a channel name is its own route');
    assert.equal(server.getHandlerByPattern('{"cmd":"unknown"}'), null);
    assert.equal(server.routeLookups, 1, 'anything else still gets Nest’s normalisation');
  });

  it('answers requests through Nest, on the reply channel, even on a channel with a direct route', async () => {
    const { direct, viaNest, published, handle } = setup();
    await handle(Patterns.PresenceQuery, JSON.stringify({ pattern: Patterns.PresenceQuery, data: { userId: 'u1' }, id: 'r1' }));
    await handle(Patterns.NotifyUser, JSON.stringify({ pattern: Patterns.NotifyUser, data: { userId: 'u1', data: 1 }, id: 'r2' }));
    await new Promise<void>((resolve) => setImmediate(resolve)); // Nest publishes replies on the next tick
    assert.deepEqual(direct, []);
    assert.deepEqual(viaNest, [
      [Patterns.PresenceQuery, { userId: 'u1' }],
      [Patterns.NotifyUser, { userId: 'u1', data: 1 }],
    ]);
    const replies = published.map(([channel, message]) => [channel, JSON.parse(message) as unknown]);
    assert.deepEqual(replies[0], [`${Patterns.PresenceQuery}.reply`, { id: 'r1', response: { online: true }, isDisposed: true }]);
  });

  it('logs a failing direct route and keeps handling messages (nothing escapes into the Redis client)', async () => {
    const { server, handle } = setup();
    let calls = 0;
    server.routeEventsDirectly(
      new Map([
        [
          Patterns.NotifyUser,
          () => {
            calls++;
            if (calls === 1) throw new Error('boom');
          },
        ],
      ]),
    );
    await handle(Patterns.NotifyUser, encodeCommand(Patterns.NotifyUser, { userId: 'u1', data: 1 }));
    await handle(Patterns.NotifyUser, encodeCommand(Patterns.NotifyUser, { userId: 'u1', data: 2 }));
    assert.equal(calls, 2);
    assert.equal(server.errors.length, 1);
    assert.match(server.errors[0] ?? '', /boom/);
  });

  it('hands an async route’s rejection to Nest’s catch-and-log', async () => {
    const { server, handle } = setup();
    server.routeEventsDirectly(new Map([[Patterns.NotifyUser, async () => Promise.reject(new Error('later'))]]));
    await assert.rejects(handle(Patterns.NotifyUser, encodeCommand(Patterns.NotifyUser, { userId: 'u1', data: 1 })), /later/);
  });
});

describe('HeraldRedisServer message listener (what ioredis calls)', () => {
  type Listener = (channel: string, message: string) => Promise<unknown> | undefined;
  const listenerOf = (server: HeraldRedisServer): Listener => server.getMessageHandler({ publish: async () => 1 }) as unknown as Listener;

  it('handles a direct-route event synchronously and hands back no promise (none to chain, no microtask)', () => {
    const { server, direct } = setup();
    const returned = listenerOf(server)(Patterns.NotifyUser, encodeCommand(Patterns.NotifyUser, { userId: 'u1', data: 1 }));
    assert.equal(returned, undefined);
    assert.deepEqual(direct, [{ userId: 'u1', data: 1 }]);
  });

  it('passes other channels to Nest, and logs (never rejects) an async route that fails', async () => {
    const { server, viaNest } = setup();
    const listener = listenerOf(server);
    await listener(Patterns.NotifyBroadcast, encodeCommand(Patterns.NotifyBroadcast, { data: 3 }));
    assert.deepEqual(viaNest, [[Patterns.NotifyBroadcast, { data: 3 }]]);
    server.routeEventsDirectly(new Map([[Patterns.NotifyUser, async () => Promise.reject(new Error('async boom'))]]));
    await listener(Patterns.NotifyUser, encodeCommand(Patterns.NotifyUser, { userId: 'u1', data: 1 }));
    assert.equal(server.errors.length, 1);
    assert.match(server.errors[0] ?? '', /async boom/);
  });
});

describe("the gateway's CommandController", () => {
  it('takes the direct road for every notify pattern (an enhancer added to it would show here)', () => {
    const controller = new CommandController({} as DeliveryService, {} as NotifyGateway, {} as MetricsService);
    const { routes, keptOnNest } = directEventRoutes(controller);
    assert.deepEqual([...routes.keys()].sort(), [...NOTIFY_PATTERNS].sort());
    assert.deepEqual(keptOnNest, []);
  });
});

describe('HeraldRedisServer subscriber socket', () => {
  it("hands each chunk read from the socket to ioredis's parser at once, not a tick later", async () => {
    const server = new HeraldRedisServer({ host: '127.0.0.1', port: 1 });
    const client = await server.createRedisClient(); // lazyConnect: nothing is opened
    const socket = new ByteStream();
    const parsed: string[] = [];
    // How ioredis 6 attaches its parser to every new connection's stream.
    socket.prependListener('data', (chunk: Buffer) => parsed.push(chunk.toString()));
    socket.resume();
    Reflect.set(client, 'stream', socket);
    client.emit('connect');
    await new Promise((resolve) => setImmediate(resolve)); // past the first read, as on a live connection
    socket.push('*3\r\n');
    assert.deepEqual(parsed, ['*3\r\n'], 'parsed in the same turn as the read');
    client.disconnect();
  });
});
