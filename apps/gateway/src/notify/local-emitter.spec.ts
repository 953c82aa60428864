import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Server, type Namespace, type Socket } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { waitUntil } from '../../../../test/support/wait.js';
import { LocalEmitter, textFrame } from './local-emitter.js';

const waitFor = (condition: () => boolean): Promise<void> => waitUntil(condition, 'the expected deliveries', 5000, 5);

const NSP = '/local-emitter';

/** A real socket.io server and real clients: what each transport receives, and through which path it went. */
describe('LocalEmitter', () => {
  let http: HttpServer;
  let io: Server;
  let namespace: Namespace;
  let emitter: LocalEmitter<{ note: (payload: unknown) => void }>;
  const serverSockets = new Map<string, Socket>();
  const clients: ClientSocket[] = [];

  /** A client of `user` in room `room:<user>`; its server socket counts the writes that took engine.io's path. */
  const join = async (user: string, transports: Array<'websocket' | 'polling'> = ['websocket']) => {
    const { port } = http.address() as AddressInfo;
    const client = connect(`http://127.0.0.1:${port}${NSP}`, { transports, auth: { user }, reconnection: false, forceNew: true });
    clients.push(client);
    const received: unknown[] = [];
    client.on('note', (payload: unknown) => received.push(payload));
    client.on('other', (payload: unknown) => received.push(['other', payload]));
    await new Promise<void>((resolve, reject) => {
      client.once('connect', resolve);
      client.once('connect_error', reject);
    });
    const socket = serverSockets.get(user);
    assert.ok(socket);
    const engineWrites = { count: 0 };
    const conn = socket.conn;
    const write = conn.write.bind(conn);
    conn.write = (...args: Parameters<typeof conn.write>) => {
      engineWrites.count++;
      return write(...args);
    };
    return { client, socket, received, engineWrites };
  };

  before(async () => {
    http = createServer();
    io = new Server(http);
    namespace = io.of(NSP);
    namespace.on('connection', (socket) => {
      const user = String(socket.handshake.auth['user']);
      serverSockets.set(user, socket);
      void socket.join(`room:${user}`);
    });
    emitter = new LocalEmitter(namespace);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    for (const client of clients) client.close();
    await new Promise<void>((resolve) => io.close(() => resolve()));
  });

  it('writes the finished frame straight to an idle WebSocket, and the client decodes what socket.io would have sent', async () => {
    const ann = await join('ann');
    const payload = { id: 'n1', text: 'héllo ✓', nested: { list: [1, null, true] } };
    assert.equal(emitter.toRooms(['room:ann'], 'note', payload), 1);
    await waitFor(() => ann.received.length === 1);
    assert.deepEqual(ann.received, [payload]);
    assert.equal(ann.engineWrites.count, 0, "an idle WebSocket must not take engine.io's per-packet path");
  });

  it("falls back to engine.io's path for a long-polling client", async () => {
    const pat = await join('pat', ['polling']);
    assert.equal(emitter.toRooms(['room:pat'], 'note', { id: 'p1' }), 1);
    await waitFor(() => pat.received.length === 1);
    assert.deepEqual(pat.received, [{ id: 'p1' }]);
    assert.equal(pat.engineWrites.count, 1);
  });

  it('keeps the order of packets engine.io already holds: queued ones go first, then direct writes resume', async () => {
    const cy = await join('cy');
    // The first emit leaves the transport unwritable until its write completes, so the second waits in engine.io's
    // buffer: a direct write now would overtake it.
    cy.socket.emit('other', 0);
    cy.socket.emit('other', 1);
    emitter.toRooms(['room:cy'], 'note', 2);
    emitter.toRooms(['room:cy'], 'note', 3);
    await waitFor(() => cy.received.length === 4);
    emitter.toRooms(['room:cy'], 'note', 4);
    await waitFor(() => cy.received.length === 5);
    assert.deepEqual(cy.received, [['other', 0], ['other', 1], 2, 3, 4]);
    assert.equal(cy.engineWrites.count, 4, "the two emits and the two sends issued while they were pending took engine.io's path; the last one did not");
  });

  it('sends a socket in several of the rooms once, counts only existing sockets, and encodes nothing for nobody', async () => {
    const dee = await join('dee');
    await dee.socket.join('room:extra');
    assert.equal(emitter.toRooms(['room:dee', 'room:extra', 'room:nobody'], 'note', 'once'), 1);
    const encode = io.encoder.encode.bind(io.encoder);
    let encoded = 0;
    io.encoder.encode = (packet) => {
      encoded++;
      return encode(packet);
    };
    assert.equal(emitter.toRooms(['room:nobody'], 'note', 'nobody'), 0);
    assert.equal(encoded, 0, 'nothing encoded when no socket is reached');
    io.encoder.encode = encode;
    await waitFor(() => dee.received.length === 1);
    emitter.toRooms(['room:dee'], 'note', 'after');
    await waitFor(() => dee.received.length === 2);
    assert.deepEqual(dee.received, ['once', 'after']);
  });

  it('reaches every socket of the namespace with toAll, on any transport', async () => {
    const eve = await join('eve');
    const flo = await join('flo', ['polling']);
    const count = namespace.sockets.size;
    assert.equal(emitter.toAll('note', { all: true }), count);
    await waitFor(() => eve.received.length === 1 && flo.received.length === 1);
    assert.deepEqual([eve.received, flo.received], [[{ all: true }], [{ all: true }]]);
  });

  it('frames payloads past both WebSocket length thresholds (126 and 65,536 bytes) that the client reads intact', async () => {
    const gus = await join('gus');
    const medium = 'm'.repeat(300);
    const large = 'é'.repeat(40_000); // 80,000 bytes of UTF-8
    emitter.toRooms(['room:gus'], 'note', medium);
    emitter.toRooms(['room:gus'], 'note', large);
    await waitFor(() => gus.received.length === 2);
    assert.deepEqual(gus.received, [medium, large]);
  });
});

describe('textFrame', () => {
  it('writes the RFC 6455 header for each length encoding, unmasked, FIN and text opcode set', () => {
    for (const [length, header] of [
      [0, 2],
      [125, 2],
      [126, 4],
      [65_535, 4],
      [65_536, 10],
    ] as const) {
      const frame = textFrame('x'.repeat(length));
      assert.equal(frame.length, header + length);
      assert.equal(frame[0], 0x81);
      const code = frame[1];
      assert.equal(code & 0x80, 0, 'servers never mask');
      const declared = header === 2 ? code : header === 4 ? frame.readUInt16BE(2) : Number(frame.readBigUInt64BE(2));
      assert.equal(declared, length);
    }
  });

  it('counts bytes, not characters', () => {
    const frame = textFrame('✓');
    assert.equal(frame[1], 3);
    assert.equal(frame.subarray(2).toString('utf8'), '✓');
  });
});
