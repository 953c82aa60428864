/**
 * Emits one event to sockets of this instance, encoded and framed once for all of them.
 *
 * socket.io's `server.local.to(room).emit()` already encodes a broadcast once, but then walks each socket through
 * the generic engine.io write path: a packet object, `packetCreate`/`flush`/`drain` events on the socket and the
 * server, a send-callback queue, a corked two-buffer `writev` and a completion callback that emits `drain` again.
 * Per delivery that is more user-space work than the notification itself, and it is the same for every socket of a
 * broadcast. A socket on a plain WebSocket transport with nothing queued gets the finished frame written as it is:
 * one buffer, one `write`, the bytes engine.io would have written. Any other socket (long-polling, mid-upgrade,
 * packets already queued, per-message deflate, closing) takes engine.io's own path, behind whatever is queued, so
 * the order of packets on a connection never changes.
 *
 * `Events` are the server-to-client events as socket.io types them (event name to listener), one payload each.
 */
export class LocalEmitter<Events extends Record<keyof Events, (payload: never) => void>> {
  constructor(private readonly namespace: LocalNamespace) {}

  /** Sends to every local socket in these rooms (a socket in several of them gets it once); returns how many. */
  toRooms<E extends keyof Events & string>(rooms: readonly string[], event: E, payload: Parameters<Events[E]>[0]): number {
    const roomTable = this.namespace.adapter.rooms;
    let encoded: EncodedEvent | undefined;
    let sent = 0;
    const seen = rooms.length > 1 ? new Set<string>() : undefined;
    for (const room of rooms) {
      const ids = roomTable.get(room);
      if (ids === undefined) continue;
      for (const id of ids) {
        if (seen !== undefined) {
          if (seen.has(id)) continue;
          seen.add(id);
        }
        const socket = this.namespace.sockets.get(id);
        if (socket === undefined) continue;
        encoded ??= this.encode(event, payload);
        write(socket, encoded);
        sent++;
      }
    }
    return sent;
  }

  /** Sends to every socket of this namespace on this instance; returns how many. */
  toAll<E extends keyof Events & string>(event: E, payload: Parameters<Events[E]>[0]): number {
    const sockets = this.namespace.sockets;
    if (sockets.size === 0) return 0;
    const encoded = this.encode(event, payload);
    for (const socket of sockets.values()) write(socket, encoded);
    return sockets.size;
  }

  private encode(event: string, payload: unknown): EncodedEvent {
    // The server's encoder (its `parser` option): the packet socket.io would have built.
    const [packet] = this.namespace.server.encoder.encode({ type: EVENT, data: [event, payload], nsp: this.namespace.name });
    if (typeof packet !== 'string') throw new TypeError('LocalEmitter: binary payloads are not supported');
    return { packet, frame: [textFrame(ENGINE_MESSAGE + packet)] };
  }
}

/** What it reads of a socket.io Namespace: its sockets and rooms on this instance, and the server's encoder. */
export interface LocalNamespace {
  readonly name: string;
  readonly adapter: { readonly rooms: ReadonlyMap<string, ReadonlySet<string>> };
  readonly sockets: ReadonlyMap<string, { readonly conn: object }>;
  readonly server: { readonly encoder: { encode(packet: { type: number; nsp: string; data: unknown[] }): unknown[] } };
}

interface EncodedEvent {
  /** The socket.io packet, as engine.io's write() takes it. */
  packet: string;
  /** The same packet as one complete WebSocket frame, engine.io's message prefix included (the list ws's sendFrame takes). */
  frame: [Buffer];
}

// socket.io-parser's EVENT packet type and engine.io's "message" packet prefix: fixed by their protocols.
const EVENT = 2;
const ENGINE_MESSAGE = '4';

/** An unmasked, final WebSocket text frame (RFC 6455 §5.2) in one buffer: servers never mask. */
export function textFrame(text: string): Buffer {
  const length = Buffer.byteLength(text);
  const header = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x81; // FIN + opcode 1 (text)
  if (header === 2) {
    frame[1] = length;
  } else if (header === 4) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeBigUInt64BE(BigInt(length), 2);
  }
  frame.write(text, header, 'utf8');
  return frame;
}

// The engine.io and ws internals the direct path reads; engine.io's own WebSocket transport uses the same ones.
interface WsSender {
  sendFrame(list: Buffer[], cb?: (error?: Error) => void): void;
}
interface EngineTransport {
  name: string;
  writable: boolean;
  perMessageDeflate?: unknown;
  socket?: { readyState?: number; _sender?: WsSender };
}
interface EngineSocket {
  readyState: string;
  writeBuffer?: unknown[];
  transport: EngineTransport;
  write(data: string): void;
}

const WS_OPEN = 1;

function write(socket: { readonly conn: object }, encoded: EncodedEvent): void {
  const conn = socket.conn as unknown as EngineSocket;
  const transport = conn.transport;
  if (
    conn.readyState === 'open' &&
    conn.writeBuffer?.length === 0 &&
    transport.name === 'websocket' &&
    transport.writable &&
    !transport.perMessageDeflate &&
    transport.socket?.readyState === WS_OPEN &&
    transport.socket._sender !== undefined
  ) {
    transport.socket._sender.sendFrame(encoded.frame);
  } else if (conn.readyState === 'open') {
    // socket.io's own client write: engine.io queues it behind anything pending and encodes it for its transport.
    conn.write(encoded.packet);
  }
}
