import assert from 'node:assert/strict';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Server, type Namespace, type Socket } from 'socket.io';
import { io as connect, type Socket as ClientSocket } from 'socket.io-client';
import { waitUntil } from '../../../../test/support/wait.js';
import { SocketWriter, closeNow, queuedBytes, textFrame } from './socket-writer.js';

const waitFor = (condition: () => boolean): Promise<void> => waitUntil(condition, 'the expected deliveries', 5000, 5);

const NSP = '/socket-writer';

/** A real socket.io server and real clients: what each transport receives, and through which path it went. */
describe('SocketWriter', () => {
  let http: HttpServer;
  let io: Server;
  let namespace: Namespace;
  let writer: SocketWriter;

  /** Encodes once, writes to each socket; returns the paths taken. */
  const send = (sockets: Socket[], payload: unknown) => sockets.map((socket) => writer.write(socket, writer.encode('note', payload)));
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
    writer = new SocketWriter(namespace);
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    for (const client of clients) client.close();
    await io.close();
  });

  // The test that fails when engine.io or ws change the internals the fast path reads (the write then says 'fallback').
  it('writes the finished frame straight to an idle WebSocket, and the client decodes what socket.io would have sent', async () => {
    const ann = await join('ann');
    const payload = { id: 'n1', text: 'héllo ✓', nested: { list: [1, null, true] } };
    assert.deepEqual(send([ann.socket], payload), ['frame']);
    await waitFor(() => ann.received.length === 1);
    assert.deepEqual(ann.received, [payload]);
    assert.equal(ann.engineWrites.count, 0, "an idle WebSocket must not take engine.io's per-packet path");
  });

  it('counts a fallback, and still writes through engine.io, when the WebSocket internals are not where the fast path looks', () => {
    // What an engine.io or ws release that moved them would look like to the writer: an idle, open WebSocket
    // transport without ws' sender (or without its socket). ws itself cannot run without them, hence stand-ins here.
    const written: string[] = [];
    const idleWebSocket = (socket?: object) => ({
      conn: { readyState: 'open', writeBuffer: [], transport: { name: 'websocket', writable: true, socket }, write: (packet: string) => written.push(packet) },
    });
    const event = writer.encode('note', { id: 'k1' });
    assert.equal(writer.write(idleWebSocket({ readyState: 1 }), event), 'fallback');
    assert.equal(writer.write(idleWebSocket(undefined), event), 'fallback');
    assert.equal(writer.write(idleWebSocket({ readyState: 1, _sender: {} }), event), 'fallback');
    assert.deepEqual(written, [event.packet, event.packet, event.packet]);
    // A closing WebSocket takes engine.io's path for its own reasons: not a fallback.
    assert.equal(writer.write(idleWebSocket({ readyState: 2, _sender: { sendFrame: () => undefined } }), event), 'engine');
  });

  it("falls back to engine.io's path for a long-polling client", async () => {
    const pat = await join('pat', ['polling']);
    assert.deepEqual(send([pat.socket], { id: 'p1' }), ['engine']);
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
    send([cy.socket], 2);
    send([cy.socket], 3);
    await waitFor(() => cy.received.length === 4);
    send([cy.socket], 4);
    await waitFor(() => cy.received.length === 5);
    assert.deepEqual(cy.received, [['other', 0], ['other', 1], 2, 3, 4]);
    assert.equal(cy.engineWrites.count, 4, "the two emits and the two sends issued while they were pending took engine.io's path; the last one did not");
  });

  it('frames stored JSON text exactly as socket.io encodes the parsed value (the check that guards the fast path)', async () => {
    assert.equal(writer.fastJson, true, "this socket.io version's encoder matches the direct framing");
    const dee = await join('dee');
    const envelope = { id: 'n1', type: 't', data: { text: 'é \u2028 "q"', list: [1, null] }, createdAt: new Date(0).toISOString(), cursor: 'e.1' };
    const json = JSON.stringify(envelope);
    assert.equal(writer.encodeJson('note', json).packet, writer.encode('note', envelope).packet);
    writer.write(dee.socket, writer.encodeJson('note', json));
    await waitFor(() => dee.received.length === 1);
    assert.deepEqual(dee.received, [envelope]);
  });

  it('falls back to parsing when the encoder frames differently, and says so', () => {
    const odd = { name: NSP, server: { encoder: { encode: (packet: { data: unknown[] }) => [`2${NSP},${JSON.stringify(packet.data)} `] } } };
    const fallback = new SocketWriter(odd);
    assert.equal(fallback.fastJson, false);
    assert.equal(fallback.encodeJson('note', '{"a":1}').packet, `2${NSP},["note",{"a":1}] `);
  });

  it('writes nothing to a socket that is no longer open', async () => {
    const hal = await join('hal');
    hal.client.disconnect();
    await waitFor(() => hal.socket.disconnected);
    assert.deepEqual(send([hal.socket], 'late'), [undefined]);
  });

  it('reaches sockets on either transport with one encoding', async () => {
    const eve = await join('eve');
    const flo = await join('flo', ['polling']);
    const event = writer.encode('note', { all: true });
    assert.deepEqual([writer.write(eve.socket, event), writer.write(flo.socket, event)], ['frame', 'engine']);
    await waitFor(() => eve.received.length === 1 && flo.received.length === 1);
    assert.deepEqual([eve.received, flo.received], [[{ all: true }], [{ all: true }]]);
  });

  it('frames payloads past both WebSocket length thresholds (126 and 65,536 bytes) that the client reads intact', async () => {
    const gus = await join('gus');
    const medium = 'm'.repeat(300);
    const large = 'é'.repeat(40_000); // 80,000 bytes of UTF-8
    send([gus.socket], medium);
    send([gus.socket], large);
    await waitFor(() => gus.received.length === 2);
    assert.deepEqual(gus.received, [medium, large]);
  });
});

// The seam the slow-consumer bound reads: these fail when engine.io or ws move what queuedBytes and closeNow use.
describe('queuedBytes and closeNow', () => {
  let http: HttpServer;
  let io: Server;
  const sockets = new Map<string, Socket>();
  const clients: ClientSocket[] = [];

  const join = async (user: string, transports: Array<'websocket' | 'polling'> = ['websocket']) => {
    const { port } = http.address() as AddressInfo;
    const client = connect(`http://127.0.0.1:${port}${NSP}`, { transports, auth: { user }, reconnection: false, forceNew: true });
    clients.push(client);
    await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('connect_error', reject));
    const socket = sockets.get(user);
    assert.ok(socket);
    return { client, socket };
  };

  before(async () => {
    http = createServer();
    io = new Server(http, { maxHttpBufferSize: 1e8 });
    io.of(NSP).on('connection', (socket) => sockets.set(String(socket.handshake.auth['user']), socket));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  });

  after(async () => {
    for (const client of clients) client.close();
    await io.close();
  });

  it('counts what ws still holds for a WebSocket (its bufferedAmount), and nothing once the client read it', async () => {
    const ann = await join('ann');
    assert.deepEqual(queuedBytes(ann.socket), { bytes: 0, measured: true });
    const writer = new SocketWriter(io.of(NSP));
    // More than the kernel takes in one write on loopback: the rest waits in the Node socket, which ws reports.
    const big = 'x'.repeat(32 * 1024 * 1024);
    let received = 0;
    ann.client.on('note', () => received++);
    assert.equal(writer.write(ann.socket, writer.encode('note', big)), 'frame');
    const queued = queuedBytes(ann.socket);
    assert.equal(queued.measured, true);
    assert.ok(queued.bytes > 0 && queued.bytes <= big.length + 64, `queued ${queued.bytes}`);
    await waitFor(() => received === 1);
    assert.deepEqual(queuedBytes(ann.socket), { bytes: 0, measured: true });
  });

  it("counts engine.io's queue for a long-polling client", async () => {
    const bo = await join('bo', ['polling']);
    // Two packets in a row: the second waits in engine.io's queue while the first goes out.
    bo.socket.emit('note', 'a'.repeat(1000));
    bo.socket.emit('note', 'b'.repeat(1000));
    const queued = queuedBytes(bo.socket);
    assert.equal(queued.measured, true);
    assert.ok(queued.bytes >= 1000, `queued ${queued.bytes}: the packet waiting for the next poll`);
  });

  it('says when the WebSocket buffered amount is not where it looks (a changed dependency): only engine.io queue counted', () => {
    const conn = { readyState: 'open', writeBuffer: [{ data: 'abc' }], transport: { name: 'websocket', writable: false, socket: {} } };
    assert.deepEqual(queuedBytes({ conn }), { bytes: 3, measured: false });
  });

  it('closeNow ends a session at once, whatever it has queued, and the client sees its transport close', async () => {
    const cy = await join('cy');
    const reasons: string[] = [];
    cy.client.on('disconnect', (reason) => reasons.push(reason));
    const writer = new SocketWriter(io.of(NSP));
    writer.write(cy.socket, writer.encode('note', 'y'.repeat(8 * 1024 * 1024)));
    closeNow(cy.socket, 50);
    assert.equal(cy.socket.connected, false, 'the server side is closed synchronously');
    await waitFor(() => reasons.length === 1);
    assert.deepEqual(reasons, ['transport close']);
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
