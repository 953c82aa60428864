import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ClientErrorKinds, NOTIFICATIONS_NAMESPACE } from '@herald/contracts';
import { HeraldMetrics } from '@herald/metrics';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { PinoLogger } from 'nestjs-pino';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import type { ConnectionAuthService } from '../auth/connection-auth.service.js';
import { DrainState } from '../ops/drain-state.service.js';
import type { FeedDeliveryService } from './feed-delivery.service.js';
import { loadConfig } from '../config/app-config.js';
import { ClientAddressService } from '../edge/client-address.service.js';
import { waitUntil } from '../../../../test/support/wait.js';
import { ClientRequestDispatcher } from './client-request.dispatcher.js';
import { countingParser } from './counting-parser.js';
import { NotifyGateway } from './notify.gateway.js';
import { PacketRateLimiter } from './packet-rate-limiter.js';
import type { UserConnectionsService } from './user-connections.service.js';
import { SessionExpiryService } from './session-expiry.service.js';
import type { NotificationNamespace, NotificationServer, NotificationSocket } from './socket.types.js';

/** The gateway on a real in-process socket.io server, wired the way Nest wires it, with a stand-in for the JWT check. */
describe('NotifyGateway', () => {
  let http: HttpServer;
  let io: NotificationServer;
  let gateway: NotifyGateway;
  let metrics: HeraldMetrics;
  const serverSockets = new Map<string, NotificationSocket>();
  const clients: ClientSocket[] = [];

  const join = async (userId: string, transports: Array<'polling' | 'websocket'> = ['websocket']): Promise<ClientSocket> => {
    const { port } = http.address() as AddressInfo;
    const client = connect(`http://127.0.0.1:${port}${NOTIFICATIONS_NAMESPACE}`, { transports, auth: { token: `token-of-${userId}` }, reconnection: false });
    clients.push(client);
    await new Promise<void>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('connect_error', reject);
    });
    return client;
  };

  before(async () => {
    http = createServer();
    metrics = new HeraldMetrics({ instanceId: 'unit', defaultMetrics: false });
    // As main.ts wires it: the parser counts what is no packet at all, the dispatcher every event.
    io = new Server(http, { parser: countingParser({ undecodable: () => metrics.clientError(ClientErrorKinds.SocketError) }) });
    const namespace: NotificationNamespace = io.of(NOTIFICATIONS_NAMESPACE);
    const auth = {
      middleware: (socket: NotificationSocket, next: () => void) => {
        socket.data.userId = String(socket.handshake.auth['token']).replace('token-of-', '');
        socket.data.tokenExp = Math.ceil(Date.now() / 1000) + 3600;
        next();
      },
    } as unknown as ConnectionAuthService;
    // What the sockets receive is FeedDeliveryService's own concern (feed-delivery.service.spec.ts).
    const feeds = { bind: async () => undefined, attach: async () => undefined, detach: () => undefined } as unknown as FeedDeliveryService;
    const logger = { debug: () => undefined, info: () => undefined, error: () => undefined } as unknown as PinoLogger;
    const noHandlers = { getProviders: () => [] } as unknown as DiscoveryService;
    const limiter = new PacketRateLimiter(loadConfig({ JWT_SECRET: 'unit-test-secret-0123456789' }));
    const requests = new ClientRequestDispatcher(noHandlers, new MetadataScanner(), new Reflector(), metrics, logger, limiter);
    // Leases of the per-user limit live in Redis: user-connections scenarios cover them.
    const connections = { renewFrom: () => undefined, release: () => undefined } as unknown as UserConnectionsService;
    gateway = new NotifyGateway(
      auth,
      metrics,
      logger,
      new ClientAddressService(loadConfig({ JWT_SECRET: 'unit-test-secret-0123456789' })),
      feeds,
      new DrainState(),
      requests,
      new SessionExpiryService(logger),
      connections,
    );
    Reflect.set(gateway, 'server', namespace); // what @WebSocketServer() does
    gateway.afterInit(namespace);
    namespace.on('connection', (socket) => {
      serverSockets.set(socket.data.userId, socket);
      gateway.handleConnection(socket);
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    for (const client of clients) client.close();
    await io.close();
  });

  it('keeps no bearer token and no per-socket closures on a connected socket', async () => {
    await join('ann');
    await join('bob');
    const [ann, bob] = [serverSockets.get('ann'), serverSockets.get('bob')];
    assert.ok(ann && bob);
    assert.deepEqual(ann.handshake.auth, {}, 'the verified token is dropped');
    const shared = (event: 'disconnect') => ann.listeners(event).filter((listener) => bob.listeners(event).includes(listener));
    assert.equal(ann.listeners('error').length, 1, "socket.io's own error listener only");
    assert.equal(ann.listeners('disconnect').length, 1);
    assert.equal(shared('disconnect').length, 1, 'the disconnect listener is shared by both sockets');
  });

  it('keeps no HTTP request of a handshake once connected: over WebSocket, and after an upgrade from long-polling', async () => {
    const requests: Array<WeakRef<object>> = [];
    const track = (_headers: unknown, request: object): void => void requests.push(new WeakRef(request));
    io.engine.on('headers', track);
    await join('request-ws');
    const upgraded = await join('request-upgrade', ['polling', 'websocket']);
    await waitFor(() => upgraded.io.engine.transport.name === 'websocket');
    io.engine.off('headers', track);
    assert.equal(serverSockets.get('request-ws')?.request, undefined);
    assert.ok(requests.length >= 3, 'the WebSocket handshake, the polling handshake and the upgrade were seen');
    await waitFor(() => {
      collectGarbage();
      return requests.every((request) => request.deref() === undefined);
    });
  });

  it('counts every event a client sends that is no request as unexpected, and keeps the socket', async () => {
    const client = await join('chatty');
    const count = async () =>
      (await metrics.registry.getSingleMetric('herald_client_messages_received_total')?.get())?.values.find((value) => value.labels['event'] === 'unexpected')?.value ??
      0;
    const before = await count();
    client.emit('hello', 1);
    client.emit('again');
    await waitFor(async () => (await count()) === before + 2);
    assert.equal(client.connected, true);
  });

  it('counts what a client sends that is no socket.io packet as a socket error', async () => {
    const client = await join('garbled');
    const count = async () =>
      (await metrics.registry.getSingleMetric('herald_client_errors_total')?.get())?.values.find(({ labels }) => labels['kind'] === ClientErrorKinds.SocketError)
        ?.value ?? 0;
    const before = await count();
    client.io.engine.write('not a socket.io packet');
    await waitFor(async () => (await count()) === before + 1);
  });
});

// A full GC on demand, for the test that checks what connections retain.
setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const waitFor = (condition: () => boolean | Promise<boolean>): Promise<void> => waitUntil(condition, 'the expected state', 5000, 10);
