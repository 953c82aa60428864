import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Server } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { waitUntil } from '../../../../test/support/wait.js';
import { isOversizedPacket } from './oversized-packet.js';

/** What engine.io and ws report when a client sends a frame over maxHttpBufferSize: the seam isOversizedPacket reads. */
describe('isOversizedPacket', () => {
  let http: HttpServer;
  let io: Server;
  const disconnects: Array<[string, unknown]> = [];
  const clients: ClientSocket[] = [];

  before(async () => {
    http = createServer();
    io = new Server(http, { maxHttpBufferSize: 1000 });
    io.on('connection', (socket) => socket.on('disconnect', (reason, description) => disconnects.push([reason, description])));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    for (const client of clients) client.close();
    await io.close();
  });

  const client = async (): Promise<ClientSocket> => {
    const { port } = http.address() as AddressInfo;
    const socket = connect(`http://127.0.0.1:${port}`, { transports: ['websocket'], reconnection: false, forceNew: true });
    clients.push(socket);
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('connect_error', reject));
    return socket;
  };

  it('recognises the disconnect of a WebSocket client that sent a packet over the limit', async () => {
    const socket = await client();
    socket.emit('big', 'x'.repeat(2000));
    await waitUntil(() => disconnects.length === 1, 'the oversized sender to be disconnected', 5000);
    const [reason, description] = disconnects[0];
    assert.equal(isOversizedPacket(reason, description), true, `${reason}: ${String(description)}`);
  });

  it('does not mistake other disconnects for it', async () => {
    const socket = await client();
    socket.close();
    await waitUntil(() => disconnects.length === 2, 'the second client to be disconnected', 5000);
    const [reason, description] = disconnects[1];
    assert.equal(isOversizedPacket(reason, description), false);
    assert.equal(isOversizedPacket('transport error', new Error('read ECONNRESET')), false);
    assert.equal(isOversizedPacket('transport close', new Error('Max payload size exceeded')), false);
  });
});
